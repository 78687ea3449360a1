//! Wait (Docker's `POST /containers/{id}/wait`): the container's exit status.

use crate::error::Result;
use crate::record::ContainerStatus;
use crate::Engine;
use std::time::Duration;

impl Engine {
    /// Blocks until the container is not running and returns its exit status; a
    /// container removed meanwhile (`--rm`) gives its last recorded status.
    pub fn wait(&self, id: &str) -> Result<i32> {
        let mut last = self.container(id)?;
        while last.status.is_live() {
            std::thread::sleep(Duration::from_millis(10));
            match self.container(id) {
                Ok(c) => last = c,
                Err(_) => {
                    last.run = self.run_state(id);
                    break;
                }
            }
        }
        Ok(last.run.exit_code.unwrap_or(match last.status {
            ContainerStatus::Exited(c) => c,
            _ => 0,
        }))
    }
}
