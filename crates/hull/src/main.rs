//! hull: the engine's command line, with Docker's verbs and habits. Each verb parses
//! its flags here and calls the libraries (hull-image for images, hull-container for
//! the container's processes through hull-engine); output formats are in the verb's
//! module. The same binary is also a container's monitor (`__monitor`) and, under
//! `--init`, the container's init (`hull-init`).

mod cli;
mod containers;
mod distribution;
mod files;
mod flags;
mod format;
mod images;
mod init;
mod inspect;
mod lifecycle;
mod networks;
mod service;
mod system;
mod volumes;

use clap::Parser;
use cli::{Cli, Command, ContainerCommand, ContainerVerb, ImageCommand, SystemCommand};
use hull_engine::{error, Engine};
use hull_image::store::Store;

fn main() {
    let mut args = std::env::args_os();
    let argv0 = args.next().unwrap_or_default();
    // The container's init under --init (hull's binary bind-mounted into it).
    if std::path::Path::new(&argv0).file_name().is_some_and(|n| n == "hull-init") {
        std::process::exit(init::main(args.skip_while(|a| a == "--").collect()));
    }
    // A container's monitor, spawned by run/start, and cp's helper: no command line
    // parsing.
    match args.next() {
        Some(a) if a == "__monitor" => {
            let (Some(root), Some(id)) = (args.next(), args.next()) else { std::process::exit(2) };
            let id = id.to_string_lossy().into_owned();
            std::process::exit(hull_engine::monitor::main(std::path::Path::new(&root), &id));
        }
        Some(a) if a == "__dns" => {
            let (Some(root), Some(name)) = (args.next(), args.next()) else { std::process::exit(2) };
            let name = name.to_string_lossy().into_owned();
            std::process::exit(hull_engine::networks::dns_main(std::path::Path::new(&root), &name));
        }
        Some(a) if a == "__cp" => std::process::exit(hull_engine::files::cp::helper_main(args.collect())),
        Some(a) if a == "__tree" => std::process::exit(hull_engine::files::tree_main(args.collect())),
        Some(a) if a == "__userns" => std::process::exit(hull_engine::userns::helper_main(args.collect())),
        Some(a) if a == "__rootfs" || a == "__rm" => {
            let verb = a.to_string_lossy().into_owned();
            std::process::exit(hull_engine::userns::work_main(&verb, args.collect()))
        }
        _ => {}
    }
    raise_nofile();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) if !e.use_stderr() => {
            // Help and version are not errors.
            let _ = e.print();
            std::process::exit(0);
        }
        Err(e) => {
            // Bad flags exit 125, as Docker's do, with one line.
            eprintln!("{}", one_line(&e.render().to_string()));
            std::process::exit(125);
        }
    };
    let root = cli.root.clone().unwrap_or_else(Store::default_root);
    // run, create and start exit 125 for the engine's own errors, as Docker; a command
    // that cannot run (run, start, exec) 126 or 127; other failures exit 1.
    let verb = match &cli.command {
        Command::Containers(v) | Command::Container(ContainerCommand::Verb(v)) => Some(v),
        _ => None,
    };
    let runs = matches!(verb, Some(ContainerVerb::Run(_) | ContainerVerb::Create(_) | ContainerVerb::Start(_)));
    let session = matches!(
        verb,
        Some(ContainerVerb::Run(_) | ContainerVerb::Start(_) | ContainerVerb::Attach(_) | ContainerVerb::Exec(_))
    );
    if !session {
        // Output into a closed pipe (`hull ps | head`) ends the command quietly, as
        // for other Unix tools; sessions with a container keep handling EPIPE.
        // SAFETY: restoring a signal's default disposition before any thread exists.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    }
    let code = match dispatch(&root, cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("Error: {e}");
            match e.kind() {
                error::Kind::CannotExecute(code) => code,
                _ if runs => 125,
                _ => 1,
            }
        }
    };
    std::process::exit(code);
}

fn dispatch(root: &std::path::Path, cli: Cli) -> error::Result<i32> {
    let engine = Engine::open(root)?;
    if let Command::System(SystemCommand::Service(a)) = &cli.command {
        return service::service(engine, a);
    }
    let store = &engine.images;
    let e = &engine;
    Ok(match cli.command {
        Command::Containers(v) | Command::Container(ContainerCommand::Verb(v)) => container_verb(e, v)?,
        Command::Container(ContainerCommand::Prune(_)) => system::prune_containers(e).map(|_| 0)?,
        Command::Volume(c) => volumes::volume(e, &c)?,
        Command::Network(c) => networks::network(e, &c)?,
        Command::System(SystemCommand::Df(a)) => system::df(e, &a)?,
        Command::System(SystemCommand::Prune(a)) => system::prune(e, &a)?,
        Command::System(SystemCommand::Info(a)) | Command::Info(a) => system::info(e, &a)?,
        Command::System(SystemCommand::Service(_)) => unreachable!("served above"),
        Command::Version(a) => system::version(&a)?,
        Command::Events(a) => system::events(e, &a)?,
        Command::Rmi(a) | Command::Image(ImageCommand::Rm(a)) => images::remove(e, &a)?,
        Command::Image(ImageCommand::Prune(a)) => images::prune(e, &a)?,
        Command::Tag(a) | Command::Image(ImageCommand::Tag(a)) => images::tag(e, &a)?,
        Command::Load(a) | Command::Image(ImageCommand::Load(a)) => images::load(e, &a)?,
        Command::Save(a) | Command::Image(ImageCommand::Save(a)) => images::save(e, &a)?,
        Command::Import(a) | Command::Image(ImageCommand::Import(a)) => images::import(e, &a)?,
        Command::Pull(a) | Command::Image(ImageCommand::Pull(a)) => distribution::pull(e, &a)?,
        Command::Push(a) | Command::Image(ImageCommand::Push(a)) => distribution::push(e, &a)?,
        other => images_command(store, other)?,
    })
}

fn container_verb(e: &Engine, v: ContainerVerb) -> error::Result<i32> {
    use ContainerVerb as V;
    match v {
        V::Run(a) => containers::run(e, &a),
        V::Create(a) => containers::create(e, &a),
        V::Start(a) => containers::start(e, &a),
        V::Attach(a) => containers::attach(e, &a),
        V::Ps(a) => inspect::ps(e, &a),
        V::Logs(a) => inspect::logs(e, &a),
        V::Inspect(a) => inspect::inspect(e, &a),
        V::Top(a) => inspect::top(e, &a),
        V::Stop(a) => lifecycle::stop(e, &a),
        V::Restart(a) => lifecycle::restart(e, &a),
        V::Kill(a) => lifecycle::kill(e, &a),
        V::Rm(a) => lifecycle::rm(e, &a),
        V::Wait(a) => lifecycle::wait(e, &a),
        V::Pause(a) => lifecycle::pause(e, &a, true),
        V::Unpause(a) => lifecycle::pause(e, &a, false),
        V::Rename(a) => lifecycle::rename(e, &a),
        V::Update(a) => lifecycle::update(e, &a),
        V::Exec(a) => lifecycle::exec(e, &a),
        V::Cp(a) => files::cp(e, &a),
        V::Export(a) => files::export(e, &a),
        V::Diff(a) => files::diff(e, &a),
        V::Commit(a) => files::commit(e, &a),
        V::Stats(a) => system::stats(e, &a),
        V::Port(a) => system::port(e, &a),
    }
}

fn images_command(store: &Store, command: Command) -> Result<i32, hull_image::Error> {
    match command {
        Command::Images(a) => images::list(store, &a),
        Command::Image(ImageCommand::Ls(a)) => images::list(store, &a),
        Command::Image(ImageCommand::Inspect(a)) => images::inspect(store, &a),
        Command::Login(a) => distribution::login(&a),
        Command::Logout(a) => distribution::logout(&a),
        _ => unreachable!("container commands are dispatched above"),
    }
}

/// Opens files up to the hard limit, as Go programs (Docker, Podman) do: removing a
/// deep tree holds a descriptor per level, and layers may be that deep.
fn raise_nofile() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        if soft < hard {
            let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
        }
    }
}

/// clap's message on one line: its first line with the details below it, without the
/// usage and help hints.
fn one_line(text: &str) -> String {
    let mut parts = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("Usage:") && !l.starts_with("For more information"));
    let mut line = parts.next().unwrap_or("error: bad command line").to_string();
    for p in parts {
        line.push(' ');
        line.push_str(p);
    }
    line
}

#[cfg(test)]
mod tests {
    #[test]
    fn clap_errors_on_one_line() {
        let text = "error: invalid value 'shared' for '--cgroupns <CGROUPNS>'\n  [possible values: private, host]\n\nFor more information, try '--help'.\n";
        assert_eq!(
            super::one_line(text),
            "error: invalid value 'shared' for '--cgroupns <CGROUPNS>' [possible values: private, host]"
        );
    }
}
