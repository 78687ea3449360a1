//! OCI hooks: each runs as its own process with the container's state JSON on stdin,
//! its `timeout` enforced through a pidfd, and its output kept for the error message.

use crate::error::{Error, Result};
use oci_spec::runtime::Hook;
use std::io::{Read, Seek, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

/// The hook points of the runtime spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Prestart,
    CreateRuntime,
    CreateContainer,
    StartContainer,
    Poststart,
    Poststop,
}

impl Kind {
    /// The name used in config.json.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Prestart => "prestart",
            Kind::CreateRuntime => "createRuntime",
            Kind::CreateContainer => "createContainer",
            Kind::StartContainer => "startContainer",
            Kind::Poststart => "poststart",
            Kind::Poststop => "poststop",
        }
    }

    /// The hooks of this kind in a spec's `hooks`.
    pub fn of(self, hooks: &Option<oci_spec::runtime::Hooks>) -> &[Hook] {
        let Some(h) = hooks else { return &[] };
        let list = match self {
            Kind::Prestart => h.prestart(),
            Kind::CreateRuntime => h.create_runtime(),
            Kind::CreateContainer => h.create_container(),
            Kind::StartContainer => h.start_container(),
            Kind::Poststart => h.poststart(),
            Kind::Poststop => h.poststop(),
        };
        list.as_deref().unwrap_or_default()
    }
}

/// Runs `hooks` in order, stopping at the first failure.
pub fn run_all(kind: Kind, hooks: &[Hook], state_json: &[u8]) -> Result<()> {
    hooks.iter().try_for_each(|h| run(kind, h, state_json))
}

/// Runs one hook to completion.
pub fn run(kind: Kind, hook: &Hook, state_json: &[u8]) -> Result<()> {
    let fail = |reason: String| Error::Hook { hook: kind.name(), path: hook.path().clone(), reason };
    // Output goes to an anonymous file, so a talkative hook can never block on a pipe.
    let out = memfd().map_err(|e| fail(format!("memfd: {e}")))?;
    let (out2, mut keep) = match (out.try_clone(), out.try_clone()) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return Err(fail(e.to_string())),
    };
    let mut cmd = Command::new(hook.path());
    if let Some(args) = hook.args() {
        if let Some((first, rest)) = args.split_first() {
            cmd.arg0(first).args(rest);
        }
    }
    cmd.env_clear();
    for kv in hook.env().iter().flatten() {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::piped()).stdout(Stdio::from(out)).stderr(Stdio::from(out2));
    let mut child = cmd.spawn().map_err(|e| fail(format!("cannot run: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is not an error.
        let _ = stdin.write_all(state_json);
    }
    let timeout = hook.timeout().filter(|t| *t > 0);
    if let Some(secs) = timeout {
        if !wait_exit(child.id() as i32, secs as u64 * 1000) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(fail(format!("timed out after {secs}s")));
        }
    }
    let status = child.wait().map_err(|e| fail(e.to_string()))?;
    if status.success() {
        return Ok(());
    }
    let mut text = String::new();
    let _ = keep.rewind();
    let _ = (&mut keep).take(4096).read_to_string(&mut text);
    let text = text.trim();
    let mut reason = format!("{status}");
    if !text.is_empty() {
        reason.push_str(&format!(", output: {text}"));
    }
    Err(fail(reason))
}

fn memfd() -> std::io::Result<std::fs::File> {
    // SAFETY: memfd_create with a NUL-terminated name and valid flags.
    let fd = unsafe { libc::memfd_create(c"hull-hook-output".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is a new descriptor we own.
    Ok(std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) }))
}

/// Waits up to `ms` for process `pid` to exit, through a pidfd; true if it exited.
pub fn wait_exit(pid: i32, ms: u64) -> bool {
    match crate::pid::open(pid) {
        Ok(fd) => poll_readable(fd.as_fd(), ms),
        Err(_) => true, // already gone
    }
}

/// Polls one descriptor for readability for up to `ms` milliseconds.
pub fn poll_readable(fd: std::os::fd::BorrowedFd<'_>, ms: u64) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(ms);
    loop {
        let left =
            deadline.saturating_duration_since(std::time::Instant::now()).as_millis().min(i32::MAX as u128) as i32;
        let mut p = libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut p, 1, left) };
        if r > 0 {
            return true;
        }
        if r == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(json: &str) -> Hook {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn hook_gets_state_on_stdin_and_env() {
        let dir = std::env::temp_dir().join(format!("hull-hook-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("out");
        let h = hook(&format!(
            r#"{{"path":"/bin/sh","args":["sh","-c","cat > {0}; echo $FOO >> {0}"],"env":["FOO=bar"]}}"#,
            out.display()
        ));
        run(Kind::Prestart, &h, b"{\"id\":\"x\"}\n").unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "{\"id\":\"x\"}\nbar\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn failing_hook_reports_status_and_output() {
        let h = hook(r#"{"path":"/bin/sh","args":["sh","-c","echo oops >&2; exit 3"]}"#);
        let err = run(Kind::CreateRuntime, &h, b"{}").unwrap_err().to_string();
        assert!(err.contains("createRuntime hook /bin/sh"), "{err}");
        assert!(err.contains("exit status: 3") && err.contains("oops"), "{err}");
    }

    #[test]
    fn timeout_kills_the_hook() {
        let h = hook(r#"{"path":"/bin/sh","args":["sh","-c","sleep 30"],"timeout":1}"#);
        let t = std::time::Instant::now();
        let err = run(Kind::Poststart, &h, b"{}").unwrap_err().to_string();
        assert!(err.contains("timed out after 1s"), "{err}");
        assert!(t.elapsed().as_secs() < 10);
    }

    #[test]
    fn missing_binary_is_an_error() {
        let h = hook(r#"{"path":"/nonexistent/hook"}"#);
        let err = run(Kind::Poststop, &h, b"{}").unwrap_err().to_string();
        assert!(err.contains("cannot run"), "{err}");
    }
}
