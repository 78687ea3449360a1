//! `hull system service [--time SECONDS] [URI]`: the Docker Engine API (hull-api) on a
//! Unix socket, as `podman system service`: root's at `/run/hull/hull.sock`, a user's
//! at `$XDG_RUNTIME_DIR/hull/hull.sock`, or a socket systemd passes (`LISTEN_FDS`,
//! see `contrib/systemd/`). Never TCP: the API is root on the host.

use crate::cli::ServiceArgs;
use hull_engine::error::{Error, Result};
use hull_engine::Engine;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::time::Duration;

/// Where the socket is by default.
pub fn default_socket() -> PathBuf {
    if nix::unistd::geteuid().is_root() {
        return PathBuf::from("/run/hull/hull.sock");
    }
    let run = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(format!("/run/user/{}", nix::unistd::geteuid())));
    run.join("hull/hull.sock")
}

/// The socket systemd passed (`LISTEN_PID` is us, `LISTEN_FDS` at least 1: fd 3).
fn socket_from_systemd() -> Option<UnixListener> {
    let pid: u32 = std::env::var("LISTEN_PID").ok()?.parse().ok()?;
    let fds: u32 = std::env::var("LISTEN_FDS").ok()?.parse().ok()?;
    if pid != std::process::id() || fds < 1 {
        return None;
    }
    // SAFETY: systemd hands the listening socket over as fd 3, ours from now on.
    let fd = unsafe { OwnedFd::from_raw_fd(3) };
    Some(UnixListener::from(fd))
}

pub fn service(engine: Engine, a: &ServiceArgs) -> Result<i32> {
    // A client that goes mid-answer must not end the server.
    // SAFETY: setting a signal disposition before any thread exists.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    let idle = (a.time > 0).then(|| Duration::from_secs(a.time));
    let (listener, path) = match socket_from_systemd() {
        Some(l) => (l, None),
        None => {
            let path = match a.uri.as_deref() {
                None => default_socket(),
                Some(u) => match u.strip_prefix("unix://") {
                    Some(p) => PathBuf::from(p),
                    None => {
                        return Err(Error::Invalid(format!(
                        "unsupported URI {u:?}: only unix:///PATH (the API is root on this host; no TCP without TLS)"
                    )))
                    }
                },
            };
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(Error::at(format!("create {}", dir.display())))?;
            }
            if UnixStream::connect(&path).is_ok() {
                return Err(Error::Conflict(format!(
                    "{} is served already (another hull system service?)",
                    path.display()
                )));
            }
            let _ = std::fs::remove_file(&path);
            let l = UnixListener::bind(&path).map_err(Error::at(format!("listen on {}", path.display())))?;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o660))
                .map_err(Error::at(format!("chmod {}", path.display())))?;
            // The host's /etc/group, read as an image's is (no NSS in a static binary).
            if let Ok(g) = hull_image::runconfig::resolve_group(std::path::Path::new("/"), "hull") {
                let _ = nix::unistd::chown(&path, None, Some(nix::unistd::Gid::from_raw(g)));
            }
            (l, Some(path))
        }
    };
    let r = hull_api::serve(engine, listener, idle);
    if let Some(p) = path {
        let _ = std::fs::remove_file(p);
    }
    r.map_err(Error::at("serve the API"))?;
    Ok(0)
}
