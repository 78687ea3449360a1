//! hull-container: the life of one Linux container, from a runtime-spec bundle to a
//! running process and back to nothing.
//!
//! Layers, from the bottom:
//! - [`spec`] loads and validates `config.json`;
//! - [`status`] is the lifecycle state machine, [`state`] the on-disk state store;
//! - [`namespaces`], [`rootfs`], [`capabilities`], [`rlimits`], [`scheduling`], [`terminal`],
//!   [`hooks`], [`cgroups`], [`seccomp`], [`lsm`] each own one kernel concern; [`mount_api`] is the
//!   new mount API's syscall edge;
//! - [`process`] is the process model: how the container's init is cloned and what it
//!   does before it execs the user's program;
//! - [`container`] holds one file per lifecycle operation (create, start, kill, delete).
//!
//! Nothing here prints; binaries turn [`Error`] into one line for the user.

pub mod capabilities;
pub mod cgroups;
pub mod clone;
pub mod container;
pub mod default_spec;
pub mod error;
pub mod features;
pub mod foreground;
pub mod hooks;
pub mod lsm;
pub mod mount_api;
pub mod mountinfo;
pub mod namespaces;
pub mod pid;
pub mod process;
pub mod rlimits;
pub mod rootfs;
pub mod safe;
pub mod scheduling;
pub mod seccomp;
pub mod signal;
pub mod spec;
pub mod state;
pub mod status;
pub mod terminal;

pub use error::{Error, Result};
