//! Fault injection for tests: `HULL_FAULT=NAME` makes the process that reaches the
//! crash point `NAME` kill itself with SIGKILL there, so that a crash at that step is
//! deterministic instead of lucky. Every point hull has is in [`POINTS`], with the step
//! it stands for; the crash tests (`crates/hull/tests/crash.rs`) walk them all. A
//! process without the variable pays one environment lookup per point.
//!
//! A crate of its own because the points are in hull-container (the runtime's create),
//! hull-image (ingest) and hull-engine (everything else), which do not depend on each
//! other.

/// Every crash point: its name and the state a crash there leaves.
pub const POINTS: &[(&str, &str)] = &[
    ("create-dir", "engine create: the container's directory and lock, no name"),
    ("create-claimed", "engine create: directory, lock, name and `creating` marker; no root filesystem"),
    ("create-before-record", "engine create: everything (root filesystem mounted, volumes, config) but the record"),
    ("start-spawned", "engine start: the monitor spawned, its pid not recorded by the starter"),
    ("runtime-cgroups", "runtime create: the init cloned and its cgroups made, no state.json"),
    ("monitor-created", "monitor: the runtime created the init (blocked on its exec fifo), not started"),
    ("monitor-started", "monitor: the container's command runs, its pid not recorded"),
    ("monitor-exited", "monitor: the init reaped, its exit not recorded, its runtime state and cgroups not deleted"),
    ("network-leased", "network attach (in the monitor): the address leased, no veth made"),
    ("stop-signalled", "engine stop: the stop signal sent, the exit not waited for"),
    ("remove-rootfs", "engine remove (rm, or a --rm monitor): the root filesystem gone, directory and name not"),
    ("commit-paused", "engine commit: the container frozen, nothing read"),
    ("layer-downloaded", "image ingest: a layer's bytes all in tmp/<digest>.partial, not adopted as a blob"),
    ("image-before-record", "image store: an image's blobs and snapshots stored, the image not recorded"),
];

/// Dies here (SIGKILL, as a crash would) when `HULL_FAULT` names this point.
pub fn point(name: &str) {
    debug_assert!(POINTS.iter().any(|(n, _)| *n == name), "crash point {name} is not in hull_fault::POINTS");
    if std::env::var_os("HULL_FAULT").is_some_and(|v| v == name) {
        // SAFETY: kill(2) of our own process.
        unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
    }
}

#[cfg(test)]
mod tests {
    use super::POINTS;
    use std::path::Path;

    fn sources(dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                sources(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(std::fs::read_to_string(&p).unwrap());
            }
        }
    }

    /// The catalogue is the code's: every `point("…")` call in the workspace's crates
    /// names a point of `POINTS`, and every point of `POINTS` is placed somewhere.
    #[test]
    fn every_point_in_the_code_is_catalogued_and_every_catalogued_point_is_placed() {
        let crates = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let mut files = Vec::new();
        for c in ["container", "image", "engine", "hull", "network", "runtime"] {
            sources(&crates.join(c).join("src"), &mut files);
        }
        let mut placed = Vec::new();
        for f in &files {
            for (i, _) in f.match_indices("fault::point(\"") {
                let rest = &f[i + "fault::point(\"".len()..];
                placed.push(rest[..rest.find('"').unwrap()].to_owned());
            }
        }
        for p in &placed {
            assert!(POINTS.iter().any(|(n, _)| n == p), "{p} is placed but not in POINTS");
        }
        for (n, _) in POINTS {
            assert!(placed.iter().any(|p| p == n), "{n} is in POINTS but placed nowhere");
        }
    }
}
