//! The lifecycle state machine: a container's statuses and which operations each allows.
//! Every guard used by the operations in [`crate::container`] lives here, in one place.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A container's status as the runtime spec names it (plus `paused`, as runc reports it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// `create` is still setting the container up.
    Creating,
    /// The init is set up and waits for `start`.
    Created,
    /// The user's program runs.
    Running,
    /// The container's processes are frozen.
    Paused,
    /// The init has exited.
    Stopped,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        })
    }
}

impl Status {
    /// `start` runs the user's program of a created container only.
    pub fn can_start(self) -> Result<(), &'static str> {
        match self {
            Status::Created => Ok(()),
            Status::Stopped => Err("cannot start a container that has stopped"),
            Status::Running | Status::Paused => Err("cannot start an already running container"),
            Status::Creating => Err("cannot start a container that is still being created"),
        }
    }
    /// `kill` signals a container whose init is alive.
    pub fn can_kill(self) -> Result<(), &'static str> {
        match self {
            Status::Created | Status::Running | Status::Paused => Ok(()),
            Status::Stopped => Err("container not running"),
            Status::Creating => Err("container is still being created"),
        }
    }
    /// `pause` freezes a running container.
    pub fn can_pause(self) -> Result<(), &'static str> {
        match self {
            Status::Running => Ok(()),
            Status::Paused => Err("container is already paused"),
            _ => Err("container not running"),
        }
    }
    /// `resume` thaws a paused container.
    pub fn can_resume(self) -> Result<(), &'static str> {
        match self {
            Status::Paused => Ok(()),
            _ => Err("container not paused"),
        }
    }
    /// `update` and `ps` need a container whose processes exist.
    pub fn has_processes(self) -> Result<(), &'static str> {
        match self {
            Status::Created | Status::Running | Status::Paused => Ok(()),
            _ => Err("container not running"),
        }
    }
    /// `delete` without `--force` removes only containers that are not running.
    pub fn can_delete(self, force: bool) -> Result<(), &'static str> {
        match self {
            Status::Stopped | Status::Created => Ok(()),
            Status::Running | Status::Paused | Status::Creating if force => Ok(()),
            Status::Running => Err("cannot delete a running container (stop it first, or use --force)"),
            Status::Paused => Err("cannot delete a paused container (resume it first, or use --force)"),
            Status::Creating => Err("cannot delete a container that is being created (use --force)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Status::*;

    #[test]
    fn start_only_from_created() {
        assert!(Created.can_start().is_ok());
        for s in [Creating, Running, Paused, Stopped] {
            assert!(s.can_start().is_err(), "{s}");
        }
    }

    #[test]
    fn kill_needs_a_live_init() {
        for s in [Created, Running, Paused] {
            assert!(s.can_kill().is_ok(), "{s}");
        }
        assert!(Stopped.can_kill().is_err());
        assert!(Creating.can_kill().is_err());
    }

    #[test]
    fn delete_running_needs_force() {
        assert!(Stopped.can_delete(false).is_ok());
        assert!(Created.can_delete(false).is_ok());
        assert!(Running.can_delete(false).is_err());
        assert!(Paused.can_delete(false).is_err());
        for s in [Creating, Created, Running, Paused, Stopped] {
            assert!(s.can_delete(true).is_ok(), "{s}");
        }
    }

    #[test]
    fn pause_and_resume() {
        assert!(Running.can_pause().is_ok());
        assert!(Paused.can_pause().is_err() && Created.can_pause().is_err() && Stopped.can_pause().is_err());
        assert!(Paused.can_resume().is_ok());
        assert!(Running.can_resume().is_err());
    }

    #[test]
    fn display_matches_the_spec_names() {
        assert_eq!(Running.to_string(), "running");
        assert_eq!(serde_json::to_string(&Stopped).unwrap(), "\"stopped\"");
    }
}
