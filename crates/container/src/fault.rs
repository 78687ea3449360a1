//! Fault injection for tests: `HULL_FAULT=NAME` makes the process that reaches the
//! point `NAME` kill itself with SIGKILL there, so that a crash at that step is
//! deterministic instead of lucky. hull-container's points: `runtime-cgroups` (create:
//! the init cloned, its cgroups made, the state not written yet). The engine's
//! are listed in `hull_engine::fault`. A process without the variable pays one
//! environment lookup per point.

/// Dies here (SIGKILL, as a crash would) when `HULL_FAULT` names this point.
pub fn point(name: &str) {
    if std::env::var_os("HULL_FAULT").is_some_and(|v| v == name) {
        // SAFETY: kill(2) of our own process.
        unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
    }
}
