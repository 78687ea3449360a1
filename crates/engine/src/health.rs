//! Health checks, as Docker's: the command of `--health-cmd` (or the image's
//! HEALTHCHECK) runs in the container every interval; its results make the container
//! `starting`, `healthy` or `unhealthy`, kept with the last five results in the
//! container's run state.
//!
//! The monitor runs the checks: a probe is `hull exec` of the command, a child of the
//! monitor that it polls without blocking (the monitor stays single-threaded). A probe
//! that outlives the timeout is killed with everything it started in the container
//! (the exec'd process leads its own session; `hull exec` writes its pid to a file).

use serde::{Deserialize, Serialize};
use std::io::Read;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Docker's defaults, for a zero or missing setting.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_RETRIES: u32 = 3;
/// Results kept, and output kept per result (Docker's limits).
const LOG_ENTRIES: usize = 5;
const OUTPUT_MAX: usize = 4096;

/// A container's health check, in the shape of Docker's `Config.Healthcheck`
/// (durations in nanoseconds, zero for the default).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Healthcheck {
    /// `["CMD", args…]`, `["CMD-SHELL", command]` or `["NONE"]`.
    #[serde(default)]
    pub test: Vec<String>,
    #[serde(default)]
    pub interval: u64,
    #[serde(default)]
    pub timeout: u64,
    #[serde(default)]
    pub start_period: u64,
    #[serde(default)]
    pub retries: u32,
}

impl Healthcheck {
    /// The command a probe runs, or None when checks are off. CMD-SHELL runs in the
    /// image's SHELL (`shell`), `/bin/sh -c` by default, with its arguments as they are.
    pub fn command(&self, shell: Option<&[String]>) -> Option<Vec<String>> {
        let default = ["/bin/sh".to_string(), "-c".to_string()];
        match self.test.split_first() {
            Some((k, rest)) if k == "CMD" && !rest.is_empty() => Some(rest.to_vec()),
            Some((k, rest)) if k == "CMD-SHELL" && !rest.is_empty() => {
                Some(shell.unwrap_or(&default).iter().chain(rest).cloned().collect())
            }
            _ => None,
        }
    }

    fn interval(&self) -> Duration {
        nonzero(self.interval).unwrap_or(DEFAULT_INTERVAL)
    }

    fn timeout(&self) -> Duration {
        nonzero(self.timeout).unwrap_or(DEFAULT_TIMEOUT)
    }

    fn retries(&self) -> u32 {
        if self.retries == 0 {
            DEFAULT_RETRIES
        } else {
            self.retries
        }
    }
}

fn nonzero(ns: u64) -> Option<Duration> {
    (ns > 0).then(|| Duration::from_nanos(ns))
}

/// `State.Health`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Health {
    pub status: String,
    pub failing_streak: u32,
    pub log: Vec<CheckResult>,
}

/// One probe's result.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CheckResult {
    pub start: String,
    pub end: String,
    pub exit_code: i32,
    pub output: String,
}

impl Health {
    pub fn starting() -> Health {
        Health { status: "starting".into(), ..Default::default() }
    }

    /// Takes a probe's result: Docker's rules (a failure of a probe begun in the start
    /// period does not count while the container is still starting).
    fn record(&mut self, r: CheckResult, check: &Healthcheck, in_start_period: bool) {
        if r.exit_code == 0 {
            self.failing_streak = 0;
            self.status = "healthy".into();
        } else if !(in_start_period && self.status == "starting") {
            self.failing_streak += 1;
            if self.failing_streak >= check.retries() {
                self.status = "unhealthy".into();
            }
        }
        self.log.push(r);
        if self.log.len() > LOG_ENTRIES {
            self.log.remove(0);
        }
    }
}

/// Docker's floor for a non-zero interval, timeout or start period.
pub const MIN_DURATION: u64 = 1_000_000;

/// A running probe.
struct Probe {
    child: Child,
    output: std::fs::File,
    buf: Vec<u8>,
    began: Instant,
    start: String,
    /// Where `hull exec` writes the pid of the process it starts.
    pid_file: std::path::PathBuf,
}

impl Probe {
    /// Reads what the probe wrote so far (at most [`OUTPUT_MAX`] bytes are kept).
    fn read_output(&mut self) {
        let mut chunk = [0u8; 4096];
        while let Ok(n) = self.output.read(&mut chunk) {
            if n == 0 {
                break;
            }
            if self.buf.len() < OUTPUT_MAX {
                self.buf.extend_from_slice(&chunk[..n.min(OUTPUT_MAX - self.buf.len())]);
            }
        }
    }

    /// Kills the process started in the container with its session (its children),
    /// then `hull exec`.
    fn kill(&mut self) {
        // A probe still being set up has no pid file yet: wait for it (a moment, and
        // only while `hull exec` lives), or its process would outlive the kill below.
        let until = Instant::now() + Duration::from_secs(2);
        let read = |p: &Path| std::fs::read_to_string(p).ok().and_then(|s| s.trim().parse::<i32>().ok());
        let mut pid = read(&self.pid_file);
        while pid.is_none() && Instant::now() < until && matches!(self.child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(5));
            pid = read(&self.pid_file);
        }
        if let Some(pid) = pid.filter(|p| *p > 1) {
            // SAFETY: kill(2) of the process group the probe's process leads (it called
            // setsid), then of the process itself; `hull exec` still waits for it, so the
            // pid cannot have been reused.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
                libc::kill(pid, libc::SIGKILL);
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.pid_file);
    }
}

/// The monitor's side: when to probe, the probe in flight, the results.
pub struct Checker {
    check: Healthcheck,
    command: Vec<String>,
    started: Instant,
    next: Instant,
    probe: Option<Probe>,
}

impl Checker {
    /// A checker for a container that has just started, or None without a check.
    pub fn new(check: &Healthcheck, shell: Option<&[String]>) -> Option<Checker> {
        let command = check.command(shell)?;
        let now = Instant::now();
        Some(Checker { check: check.clone(), command, started: now, next: now + check.interval(), probe: None })
    }

    /// How long the monitor may wait before calling [`Checker::tick`] again.
    pub fn wait(&self) -> Duration {
        match &self.probe {
            // Its output is read and its end noticed on the next tick.
            Some(_) => Duration::from_millis(50),
            None => self.next.saturating_duration_since(Instant::now()),
        }
    }

    /// Starts a due probe, or collects the one in flight; returns true when `health`
    /// changed.
    pub fn tick(&mut self, dir: &Path, root: &Path, id: &str, health: &mut Health) -> bool {
        let now = Instant::now();
        let Some(p) = self.probe.as_mut() else {
            if now >= self.next {
                self.probe = spawn(dir, root, id, &self.command);
                if self.probe.is_none() {
                    self.next = now + self.check.interval();
                }
            }
            return false;
        };
        p.read_output();
        let timed_out = now.duration_since(p.began) > self.check.timeout();
        let code = match p.child.try_wait() {
            Ok(Some(st)) => {
                // What it wrote between the read above and its exit.
                p.read_output();
                st.code().unwrap_or(-1)
            }
            Ok(None) if !timed_out => return false,
            _ => {
                p.kill();
                -1
            }
        };
        let p = self.probe.take().expect("a probe");
        let output = if timed_out && code == -1 {
            format!("Health check exceeded timeout ({:?})", self.check.timeout())
        } else {
            String::from_utf8_lossy(&p.buf).into_owned()
        };
        let in_start_period = p.began.duration_since(self.started) < Duration::from_nanos(self.check.start_period);
        let r = CheckResult { start: p.start.clone(), end: crate::now(), exit_code: code, output };
        health.record(r, &self.check, in_start_period);
        self.next = Instant::now() + self.check.interval();
        true
    }

    /// Ends a probe in flight (the container stopped).
    pub fn stop(&mut self) {
        if let Some(mut p) = self.probe.take() {
            p.kill();
        }
    }
}

/// `hull exec ID COMMAND…` with its output (both streams) on a non-blocking pipe, its
/// process's pid written to `dir/health.pid`.
fn spawn(dir: &Path, root: &Path, id: &str, command: &[String]) -> Option<Probe> {
    use std::os::unix::process::CommandExt;
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK).ok()?;
    // The child's end blocks as usual.
    // SAFETY: F_SETFL on a descriptor we own.
    unsafe { libc::fcntl(w.as_raw_fd(), libc::F_SETFL, 0) };
    let w2 = w.try_clone().ok()?;
    let pid_file = dir.join("health.pid");
    let _ = std::fs::remove_file(&pid_file);
    let child = Command::new("/proc/self/exe")
        .arg0("hull")
        .arg("--root")
        .arg(root)
        .arg("exec")
        .arg("--pid-file")
        .arg(&pid_file)
        .arg(id)
        .args(command)
        .stdin(Stdio::null())
        .stdout(Stdio::from(w))
        .stderr(Stdio::from(w2))
        .spawn()
        .ok()?;
    Some(Probe {
        child,
        output: std::fs::File::from(r),
        buf: Vec::new(),
        began: Instant::now(),
        start: crate::now(),
        pid_file,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_of_the_test_forms() {
        let c = |t: &[&str]| Healthcheck { test: t.iter().map(|s| s.to_string()).collect(), ..Default::default() };
        assert_eq!(c(&["CMD", "true"]).command(None), Some(vec!["true".to_string()]));
        assert_eq!(
            c(&["CMD-SHELL", "test -f /x"]).command(None),
            Some(vec!["/bin/sh".into(), "-c".into(), "test -f /x".into()])
        );
        assert_eq!(
            c(&["CMD-SHELL", "exit $0", "3"]).command(None),
            Some(vec!["/bin/sh".into(), "-c".into(), "exit $0".into(), "3".into()]),
            "the arguments as they are"
        );
        let ash = ["/bin/ash".to_string(), "-ec".to_string()];
        assert_eq!(
            c(&["CMD-SHELL", "true"]).command(Some(&ash)),
            Some(vec!["/bin/ash".into(), "-ec".into(), "true".into()]),
            "the image's SHELL"
        );
        assert_eq!(c(&["NONE"]).command(None), None);
        assert_eq!(c(&[]).command(None), None);
    }

    #[test]
    fn docker_rules_for_streaks_and_the_start_period() {
        let check = Healthcheck { retries: 2, ..Default::default() };
        let r = |code| CheckResult { exit_code: code, ..Default::default() };
        let mut h = Health::starting();
        h.record(r(1), &check, true);
        assert_eq!((h.status.as_str(), h.failing_streak), ("starting", 0), "start period: not counted");
        h.record(r(1), &check, false);
        assert_eq!((h.status.as_str(), h.failing_streak), ("starting", 1));
        h.record(r(1), &check, false);
        assert_eq!((h.status.as_str(), h.failing_streak), ("unhealthy", 2));
        h.record(r(1), &check, true);
        assert_eq!(h.failing_streak, 3, "an unhealthy container's failures count in the start period too");
        h.record(r(0), &check, false);
        assert_eq!((h.status.as_str(), h.failing_streak), ("healthy", 0));
        h.record(r(1), &check, true);
        assert_eq!(h.failing_streak, 1, "a healthy container's failures count even in the start period");
        for _ in 0..10 {
            h.record(r(0), &check, false);
        }
        assert_eq!(h.log.len(), LOG_ENTRIES);
    }
}
