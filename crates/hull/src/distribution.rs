//! The registry verbs: pull, push, login, logout; progress bars on a terminal
//! (indicatif), Docker's plain lines otherwise.

use crate::cli::{LoginArgs, LogoutArgs, PullArgs, PushArgs};
use hull_engine::images::unpack_options;
use hull_engine::Engine;
use hull_image::digest::Digest;
use hull_image::image::Platform;
use hull_image::pull::{Progress, PullOptions};
use hull_image::reference::Reference;
use hull_image::registry::{self, Client, Credentials};
use hull_image::{Error, Result};
use std::collections::HashMap;
use std::io::{IsTerminal, Read};
use std::sync::Mutex;

fn short(d: &Digest) -> String {
    d.hex()[..12].to_string()
}

/// Bars on a terminal, one line per finished layer otherwise, nothing when quiet.
enum Reporter {
    Quiet,
    Lines,
    Bars { multi: indicatif::MultiProgress, bars: Mutex<HashMap<Digest, indicatif::ProgressBar>> },
}

impl Reporter {
    fn new(quiet: bool) -> Reporter {
        if quiet {
            Reporter::Quiet
        } else if std::io::stderr().is_terminal() {
            Reporter::Bars { multi: indicatif::MultiProgress::new(), bars: Mutex::new(HashMap::new()) }
        } else {
            Reporter::Lines
        }
    }
}

impl Progress for Reporter {
    fn start(&self, layer: &Digest, size: Option<u64>) {
        if let Reporter::Bars { multi, bars } = self {
            let style = indicatif::ProgressStyle::with_template("{prefix}: {msg:<12} [{bar:30}] {bytes}/{total_bytes}")
                .expect("template")
                .progress_chars("=> ");
            let b = multi.add(
                indicatif::ProgressBar::new(size.unwrap_or(0))
                    .with_style(style)
                    .with_prefix(short(layer))
                    .with_message("Waiting"),
            );
            bars.lock().expect("lock").insert(*layer, b);
        }
    }

    fn advance(&self, layer: &Digest, n: u64) {
        if let Reporter::Bars { bars, .. } = self {
            if let Some(b) = bars.lock().expect("lock").get(layer) {
                if b.position() == 0 {
                    b.set_message("Downloading");
                }
                b.inc(n);
            }
        }
    }

    fn finish(&self, layer: &Digest, status: &str) {
        match self {
            Reporter::Quiet => {}
            Reporter::Lines => println!("{}: {status}", short(layer)),
            Reporter::Bars { bars, .. } => {
                if let Some(b) = bars.lock().expect("lock").get(layer) {
                    b.set_style(indicatif::ProgressStyle::with_template("{prefix}: {msg}").expect("template"));
                    b.finish_with_message(status.to_string());
                }
            }
        }
    }
}

pub fn pull(engine: &Engine, a: &PullArgs) -> hull_engine::Result<i32> {
    let reference = Reference::parse(&a.name)?;
    let opts = pull_options(a)?;
    if !a.quiet {
        if reference.tag.is_some() && !a.name.contains(':') {
            println!("Using default tag: latest");
        }
        println!("{}: Pulling from {}", reference.object(), reference.repository);
    }
    let reporter = Reporter::new(a.quiet);
    let pulled = engine.pull(&a.name, &opts, &reporter)?;
    if !a.quiet {
        println!("Digest: {}", pulled.repo_digest);
        let familiar = Reference::familiar(&pulled.reference.to_string());
        if pulled.up_to_date {
            println!("Status: Image is up to date for {familiar}");
        } else {
            println!("Status: Downloaded newer image for {familiar}");
        }
    }
    println!("{}", pulled.reference);
    Ok(0)
}

fn pull_options(a: &PullArgs) -> Result<PullOptions> {
    let mut opts = PullOptions {
        unpack: unpack_options(),
        registry: registry::Options { tls_verify: a.tls_verify, credentials: None },
        ..Default::default()
    };
    if let Some(p) = &a.platform {
        opts.platform = Platform::parse(p)?;
    }
    Ok(opts)
}

/// The pull of `hull run`/`create` for a missing image: Docker's status lines on stderr
/// (stdout is the container's).
pub fn pull_quietly(engine: &Engine, a: &PullArgs) -> hull_engine::Result<()> {
    let opts = pull_options(a)?;
    let reference = Reference::parse(&a.name)?;
    eprintln!("{}: Pulling from {}", reference.object(), reference.repository);
    let pulled = engine.pull(&a.name, &opts, &Reporter::new(true))?;
    eprintln!("Digest: {}", pulled.repo_digest);
    eprintln!("Status: Downloaded newer image for {}", Reference::familiar(&pulled.reference.to_string()));
    Ok(())
}

pub fn push(engine: &Engine, a: &PushArgs) -> hull_engine::Result<i32> {
    let reporter = Reporter::new(a.quiet);
    if !a.quiet {
        let r = Reference::parse(a.destination.as_deref().unwrap_or(&a.name))?;
        println!("The push refers to repository [{}]", r.name());
    }
    let pushed = engine.push(
        &a.name,
        a.destination.as_deref(),
        registry::Options { tls_verify: a.tls_verify, credentials: None },
        &reporter,
    )?;
    if !a.quiet {
        println!("{}: digest: {} size: {}", pushed.reference.object(), pushed.digest, pushed.size);
    }
    Ok(0)
}

pub fn login(a: &LoginArgs) -> Result<i32> {
    let server = registry::server_name(a.server.as_deref());
    let username = match &a.username {
        Some(u) => u.clone(),
        None => return Err(Error::Reference("hull login needs --username (hull does not prompt)".into())),
    };
    let password = if a.password_stdin {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| Error::Io { what: "read the password from standard input".into(), source: e })?;
        s.trim_end_matches(['\n', '\r']).to_string()
    } else {
        match &a.password {
            Some(p) => {
                eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
                p.clone()
            }
            None => return Err(Error::Reference("hull login needs --password-stdin or --password".into())),
        }
    };
    let creds = Credentials { username, password };
    let probe =
        Reference { registry: server.clone(), repository: "library/hull-login-probe".into(), tag: None, digest: None };
    Client::new(&probe, registry::Options { tls_verify: a.tls_verify, credentials: None }, false, Some(creds.clone()))?
        .ping()?;
    let path = registry::docker_config_path();
    registry::store_credentials(&path, &server, Some(&creds))?;
    println!("Login Succeeded");
    Ok(0)
}

pub fn logout(a: &LogoutArgs) -> Result<i32> {
    let server = registry::server_name(a.server.as_deref());
    let path = registry::docker_config_path();
    if registry::store_credentials(&path, &server, None)? {
        println!("Removing login credentials for {server}");
    } else {
        println!("Not logged in to {server}");
    }
    Ok(0)
}
