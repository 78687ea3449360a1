//! `hull create`, `run`, `start` and `attach`: a container made from an image and the
//! flags (root filesystem, config, record), its monitor spawned, and the command's
//! terminal attached to it through the monitor's attach protocol.

use crate::cli::{AttachArgs, CreateArgs, PullArgs, PullPolicy, RunArgs, StartArgs};
use hull_engine::attach::{self, read_frame, write_frame};
use hull_engine::error::{Error, Result};
use hull_engine::record::ContainerStatus;
use hull_engine::Engine;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;

/// `hull create`: prints the new container's id.
pub fn create(engine: &Engine, a: &CreateArgs) -> Result<i32> {
    let id = make(engine, a)?;
    println!("{id}");
    Ok(0)
}

/// `hull run`.
pub fn run(engine: &Engine, a: &RunArgs) -> Result<i32> {
    let id = make(engine, &a.create)?;
    let sock = engine.start_attached(&id)?;
    if a.detach {
        println!("{id}");
        return Ok(0);
    }
    let stdin =
        a.create.interactive && (a.attach.is_empty() || a.attach.iter().any(|s| s.eq_ignore_ascii_case("stdin")));
    let session = Session {
        tty: a.create.tty,
        stdin,
        sig_proxy: a.sig_proxy && !a.create.tty,
        detach_keys: detach_keys(a.detach_keys.as_deref())?,
    };
    session.run(engine, &id, sock)
}

/// `hull start`.
pub fn start(engine: &Engine, a: &StartArgs) -> Result<i32> {
    let mut status = 0;
    let mut names = a.containers.clone();
    if a.all {
        // Podman's `start --all`: what podman-restart.service runs at boot (see
        // contrib/systemd) to bring back containers with a restart policy.
        for id in engine.ids()? {
            let Ok(c) = engine.container(&id) else { continue };
            let mut keep = !c.status.is_live();
            for f in &a.filter {
                keep &= hull_engine::inspect::matches(&c, f)?;
            }
            if keep {
                names.push(c.record.name.clone());
            }
        }
    }
    for name in &names {
        let r = (|| -> Result<i32> {
            let id = engine.resolve(name)?;
            if !a.attach {
                match engine.start(&id) {
                    Ok(()) | Err(Error::NotModified(_)) => {}
                    Err(e) => return Err(e),
                }
                println!("{name}");
                return Ok(0);
            }
            let sock = match engine.start_attached(&id) {
                Err(Error::NotModified(_)) => engine.attach(&id)?,
                r => r?,
            };
            let c = engine.container(&id)?;
            let session = Session {
                tty: c.record.config.tty,
                stdin: a.interactive && c.record.config.open_stdin,
                sig_proxy: !c.record.config.tty,
                detach_keys: detach_keys(a.detach_keys.as_deref())?,
            };
            session.run(engine, &id, sock)
        })();
        match r {
            Ok(code) => status = code,
            Err(e) => {
                eprintln!("Error: {e}");
                status = e.run_status();
            }
        }
    }
    Ok(status)
}

/// `hull attach`.
pub fn attach(engine: &Engine, a: &AttachArgs) -> Result<i32> {
    let id = engine.resolve(&a.container)?;
    let c = engine.container(&id)?;
    let sock = engine.attach(&id)?;
    let session = Session {
        tty: c.record.config.tty,
        stdin: !a.no_stdin && c.record.config.open_stdin,
        sig_proxy: a.sig_proxy && !c.record.config.tty,
        detach_keys: detach_keys(a.detach_keys.as_deref())?,
    };
    session.run(engine, &id, sock)
}

/// Docker's `--detach-keys` (`ctrl-p,ctrl-q` by default) as bytes.
fn detach_keys(s: Option<&str>) -> Result<Vec<u8>> {
    let s = s.unwrap_or("ctrl-p,ctrl-q");
    let mut out = Vec::new();
    for k in s.split(',') {
        let k = k.trim();
        if let Some(c) = k.strip_prefix("ctrl-") {
            let b = match c.as_bytes() {
                [b] if b.is_ascii_alphabetic() => b.to_ascii_lowercase() - b'a' + 1,
                b"@" => 0,
                b"[" => 27,
                b"\\" => 28,
                b"]" => 29,
                b"^" => 30,
                b"_" => 31,
                _ => return Err(Error::Invalid(format!("invalid detach key {k:?}"))),
            };
            out.push(b);
        } else if k.len() == 1 {
            out.push(k.as_bytes()[0]);
        } else if !k.is_empty() {
            return Err(Error::Invalid(format!("invalid detach key {k:?}")));
        }
    }
    Ok(out)
}

/// A command attached to a container: output to our stdout/stderr, our stdin to the
/// container, signals forwarded (without a terminal), window size with one.
struct Session {
    tty: bool,
    stdin: bool,
    sig_proxy: bool,
    detach_keys: Vec<u8>,
}

impl Session {
    fn run(&self, engine: &Engine, id: &str, mut sock: UnixStream) -> Result<i32> {
        use nix::sys::signal::{SigSet, SigmaskHow, Signal};
        use nix::sys::signalfd::{SfdFlags, SignalFd};
        let mut set = SigSet::empty();
        if self.sig_proxy {
            for s in
                [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP, Signal::SIGQUIT, Signal::SIGUSR1, Signal::SIGUSR2]
            {
                set.add(s);
            }
        }
        if self.tty {
            set.add(Signal::SIGWINCH);
        }
        nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None)
            .map_err(|e| Error::io("block signals", e.into()))?;
        let sfd = SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC).map_err(|e| Error::io("signalfd", e.into()))?;
        let _raw = self.tty.then(hull_container::foreground::RawMode::enter);
        if self.tty {
            send_size(&mut sock);
        }
        let mut stdin_open = self.stdin;
        let mut buf = vec![0u8; 32 * 1024];
        let mut matched = 0usize;
        let mut out = std::io::stdout().lock();
        loop {
            let mut fds = [
                libc::pollfd { fd: sock.as_raw_fd(), events: libc::POLLIN, revents: 0 },
                libc::pollfd { fd: if stdin_open { 0 } else { -1 }, events: libc::POLLIN, revents: 0 },
                libc::pollfd { fd: sfd.as_raw_fd(), events: libc::POLLIN, revents: 0 },
            ];
            // SAFETY: a valid array of pollfds.
            if unsafe { libc::poll(fds.as_mut_ptr(), 3, -1) } < 0 {
                continue;
            }
            if fds[2].revents != 0 {
                if let Ok(Some(info)) = sfd.read_signal() {
                    if info.ssi_signo as i32 == libc::SIGWINCH {
                        send_size(&mut sock);
                    } else {
                        let _ = hull_container::container::kill(&engine.runtime, id, info.ssi_signo as i32, false);
                    }
                }
            }
            if fds[1].revents != 0 {
                // SAFETY: read into a valid buffer.
                let n = unsafe { libc::read(0, buf.as_mut_ptr().cast(), buf.len()) };
                if n <= 0 {
                    stdin_open = false;
                    let _ = write_frame(&mut sock, attach::CLOSE_STDIN, b"");
                } else {
                    let data = &buf[..n as usize];
                    if self.tty && !self.detach_keys.is_empty() {
                        // The detach sequence is held back until it is complete or broken.
                        let mut pass = Vec::with_capacity(data.len());
                        for &b in data {
                            if b == self.detach_keys[matched] {
                                matched += 1;
                                if matched == self.detach_keys.len() {
                                    drop(_raw);
                                    eprintln!("\r\nread escape sequence");
                                    return Ok(0);
                                }
                            } else {
                                pass.extend_from_slice(&self.detach_keys[..matched]);
                                matched = 0;
                                pass.push(b);
                            }
                        }
                        if !pass.is_empty() && write_frame(&mut sock, attach::STDIN, &pass).is_err() {
                            stdin_open = false;
                        }
                    } else if write_frame(&mut sock, attach::STDIN, data).is_err() {
                        stdin_open = false;
                    }
                }
            }
            if fds[0].revents != 0 {
                match read_frame(&mut sock) {
                    Ok(Some((attach::STDOUT, data))) => {
                        let _ = out.write_all(&data);
                        let _ = out.flush();
                    }
                    Ok(Some((attach::STDERR, data))) => {
                        let _ = std::io::stderr().write_all(&data);
                    }
                    Ok(Some((attach::EXIT, code))) => {
                        // To the end: the monitor closes its side by exiting (or at once
                        // when it restarts the container).
                        let _ = sock.set_read_timeout(Some(std::time::Duration::from_secs(5)));
                        let _ = std::io::copy(&mut sock, &mut std::io::sink());
                        return Ok(String::from_utf8_lossy(&code).trim().parse().unwrap_or(125));
                    }
                    Ok(Some((attach::ERROR, p))) => {
                        let (status, msg) = attach::parse_start_error(&p);
                        return Err(Error::start_failure(status, msg));
                    }
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => {
                        // The monitor went away without a status: report what is on disk.
                        return match engine.container(id) {
                            Ok(c) => match c.status {
                                ContainerStatus::Exited(code) => Ok(code),
                                _ => Err(Error::Conflict(format!(
                                    "the monitor of container {} is gone",
                                    hull_image::image::short_id(id)
                                ))),
                            },
                            Err(_) => Ok(137),
                        };
                    }
                }
            }
        }
    }
}

fn send_size(sock: &mut UnixStream) {
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes one winsize.
    if unsafe { libc::ioctl(0, libc::TIOCGWINSZ, &mut ws) } == 0 {
        let mut p = ws.ws_row.to_le_bytes().to_vec();
        p.extend_from_slice(&ws.ws_col.to_le_bytes());
        let _ = write_frame(sock, attach::RESIZE, &p);
    }
}

/// Makes a container from the flags, pulling its image first when it is missing (or
/// always, with `--pull always`), as Docker's command line does.
fn make(engine: &Engine, a: &CreateArgs) -> Result<String> {
    if let Some(p) = a.cidfile.as_deref().filter(|p| p.exists()) {
        return Err(Error::Invalid(format!(
            "Container ID file found, make sure the other container isn't running or delete {}",
            p.display()
        )));
    }
    let opts = crate::flags::create_options(a)?;
    let pull = || -> Result<()> {
        let pa = PullArgs { quiet: true, platform: a.platform.clone(), tls_verify: true, name: a.image.clone() };
        crate::distribution::pull_quietly(engine, &pa)
    };
    let created = match a.pull {
        PullPolicy::Always => {
            pull()?;
            engine.create(&opts)?
        }
        PullPolicy::Missing => match engine.create(&opts) {
            Err(hull_engine::Error::Image(hull_image::Error::NoSuchImage(_))) => {
                if !a.quiet {
                    eprintln!("Unable to find image '{}' locally", a.image);
                }
                pull()?;
                engine.create(&opts)?
            }
            r => r?,
        },
        PullPolicy::Never => engine.create(&opts)?,
    };
    for w in &created.warnings {
        eprintln!("WARNING: {w}");
    }
    if let Some(p) = &a.cidfile {
        std::fs::write(p, &created.id).map_err(Error::at(format!("write the container ID file {}", p.display())))?;
    }
    Ok(created.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys_as_docker() {
        assert_eq!(detach_keys(None).unwrap(), [16, 17]);
        assert_eq!(detach_keys(Some("ctrl-a,x")).unwrap(), [1, b'x']);
    }
}
