//! Stop, kill and restart (Docker's `POST /containers/{id}/stop|kill|restart`).

use crate::error::{Error, Result};
use crate::record::ContainerStatus;
use crate::Engine;
use hull_container::container;
use std::time::Duration;

/// How to stop a container (Docker's `t` and `signal` query parameters).
#[derive(Debug, Clone, Default)]
pub struct StopOptions {
    /// Seconds to wait before SIGKILL (the container's StopTimeout, or 10, when
    /// unset; negative waits for ever).
    pub timeout: Option<i64>,
    /// The signal to stop with (the container's StopSignal when unset).
    pub signal: Option<String>,
}

impl Engine {
    /// Stops a container: its stop signal, then SIGKILL after the timeout. Returns once
    /// its monitor has finished with it. A container that is not running is left as it
    /// is (Docker's API answers 304 then; the CLI succeeds).
    pub fn stop(&self, id: &str, opts: &StopOptions) -> Result<()> {
        self.stop_locked(id, opts)?;
        if let Ok(r) = self.record(id) {
            self.container_event(&r, "stop", &[]);
        }
        // Docker's stop returns once the container is stopped for good.
        self.wait_finished(id, Duration::from_secs(10));
        Ok(())
    }

    fn stop_locked(&self, id: &str, opts: &StopOptions) -> Result<()> {
        let _lock = self.lock(id)?;
        let c = self.container(id)?;
        self.mark_stopped(id);
        if !c.status.is_live() {
            return Ok(());
        }
        let sig = hull_container::signal::parse(opts.signal.as_deref().unwrap_or(&c.record.config.stop_signal))?;
        let secs = opts.timeout.or(c.record.config.stop_timeout).unwrap_or(10);
        if c.status == ContainerStatus::Paused {
            let _ = container::resume(&self.runtime, id);
        }
        let _ = container::kill(&self.runtime, id, sig, false);
        crate::fault::point("stop-signalled");
        let wait = if secs < 0 { Duration::from_secs(u64::MAX / 4) } else { Duration::from_secs(secs as u64) };
        if self.wait_stopped(id, wait) {
            return Ok(());
        }
        let _ = container::kill(&self.runtime, id, libc::SIGKILL, true);
        if self.wait_stopped(id, Duration::from_secs(10)) {
            Ok(())
        } else {
            Err(Error::Conflict(format!("container {id} did not stop after SIGKILL")))
        }
    }

    /// Stops a container and starts it again.
    pub fn restart(&self, id: &str, opts: &StopOptions) -> Result<()> {
        self.stop(id, opts)?;
        match self.start(id) {
            Ok(()) | Err(Error::NotModified(_)) => {}
            Err(e) => return Err(e),
        }
        if let Ok(r) = self.record(id) {
            self.container_event(&r, "restart", &[]);
        }
        Ok(())
    }

    /// Sends `signal` (a name or number) to a running container's init. Killing with
    /// SIGKILL or the stop signal counts as a stop by the user, as Docker's.
    pub fn kill(&self, id: &str, signal: &str) -> Result<()> {
        let sig = hull_container::signal::parse(signal)?;
        let _lock = self.lock(id)?;
        let c = self.container(id)?;
        if !matches!(c.status, ContainerStatus::Running | ContainerStatus::Paused) {
            return Err(Error::NotRunning(format!("Cannot kill container: {id}: Container {id} is not running")));
        }
        let stop_sig = hull_container::signal::parse(&c.record.config.stop_signal).unwrap_or(libc::SIGTERM);
        if sig == libc::SIGKILL || sig == stop_sig {
            self.mark_stopped(id);
        }
        // Logged before the signal goes: the monitor logs the `die` it may cause as soon
        // as the init is gone, and the log must read kill, then die.
        self.container_event(&c.record, "kill", &[("signal", sig.to_string())]);
        container::kill(&self.runtime, id, sig, false)?;
        Ok(())
    }
}
