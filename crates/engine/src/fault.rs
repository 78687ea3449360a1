//! Fault injection for tests: `HULL_FAULT=NAME` makes the process that reaches the
//! point `NAME` kill itself with SIGKILL there (hull-container's `fault::point`, one
//! implementation). The engine's points: `create-claimed` (name and directory claimed,
//! nothing else made), `create-before-record` (everything made but the record: root
//! filesystem mounted, volumes, config), `monitor-created` (the monitor, after the
//! runtime created the init and before it starts it), `commit-paused` (a commit, with
//! the container frozen).

pub use hull_container::fault::point;
