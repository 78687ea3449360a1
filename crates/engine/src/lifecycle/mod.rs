//! The operations on an existing container, one file each, as methods of
//! [`Engine`](crate::Engine): [`start`], [`stop`] (stop, kill, restart), [`pause`]
//! (pause, unpause), [`remove`], [`wait`], [`rename`], [`update`], [`exec`]. Each takes
//! the container's lock for as long as it changes the container, so two operations on
//! one container are serialised; none prints or reads a terminal.

pub mod exec;
pub mod pause;
pub mod remove;
pub mod rename;
pub mod start;
pub mod stop;
pub mod update;
pub mod wait;

use crate::record::{Container, STOPPED_BY_USER};
use crate::Engine;
use std::time::{Duration, Instant};

impl Engine {
    /// Waits until the container is no longer live (or gone); true if it stopped in time.
    pub(crate) fn wait_stopped(&self, id: &str, timeout: Duration) -> bool {
        self.wait_until(id, timeout, |c| !c.status.is_live())
    }

    /// Waits until the container's monitor has finished with it (its exit recorded, its
    /// runtime state deleted, under --rm the container removed), so that it can be
    /// started again. Not under the container's lock, which the removal takes.
    pub fn wait_finished(&self, id: &str, timeout: Duration) -> bool {
        self.wait_until(id, timeout, |c| !c.status.is_live() && !c.monitored)
    }

    pub(crate) fn wait_until(&self, id: &str, timeout: Duration, done: impl Fn(&Container) -> bool) -> bool {
        let until = Instant::now() + timeout;
        loop {
            match self.container(id) {
                Ok(c) if !done(&c) => {}
                _ => return true,
            }
            if Instant::now() >= until {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Records that the user wants the container stopped: its monitor does not restart it.
    pub(crate) fn mark_stopped(&self, id: &str) {
        let _ = std::fs::write(self.dir(id).join(STOPPED_BY_USER), b"");
    }
}
