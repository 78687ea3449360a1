//! Pause and unpause (the cgroup freezer, through hull-container).

use crate::error::{Error, Result};
use crate::record::ContainerStatus;
use crate::Engine;
use hull_container::container;

impl Engine {
    /// Freezes every process of a running container.
    pub fn pause(&self, id: &str) -> Result<()> {
        let _lock = self.lock(id)?;
        match self.container(id)?.status {
            ContainerStatus::Running => {
                container::pause(&self.runtime, id)?;
                self.container_event(&self.record(id)?, "pause", &[]);
                Ok(())
            }
            ContainerStatus::Paused => Err(Error::Conflict(format!("Container {id} is already paused"))),
            _ => Err(Error::NotRunning(format!("Container {id} is not running"))),
        }
    }

    /// Thaws a paused container.
    pub fn unpause(&self, id: &str) -> Result<()> {
        let _lock = self.lock(id)?;
        match self.container(id)?.status {
            ContainerStatus::Paused => {
                container::resume(&self.runtime, id)?;
                self.container_event(&self.record(id)?, "unpause", &[]);
                Ok(())
            }
            _ => Err(Error::Conflict(format!("Container {id} is not paused"))),
        }
    }
}
