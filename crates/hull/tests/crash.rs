//! Crash consistency, tried as a hostile and unlucky user would: hull killed (SIGKILL)
//! at every crash point of `hull_fault::POINTS` in turn, then at random moments in a
//! bounded soak (the client, the container's monitor, its init), and verbs run in
//! parallel on one container. After each crash, `rm -f`, `prune` or a retry of the
//! verb must leave nothing (directory, runtime state, mount, cgroup, process, name,
//! temporary file or blob) and the container's name must be free again.

mod common;

use common::*;
use std::os::unix::process::ExitStatusExt;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn killed(o: &Output, point: &str) {
    assert_eq!(o.status.signal(), Some(libc::SIGKILL), "{point}: not killed at its fault: {}", err(o));
}

fn status(h: &Hull, name: &str) -> String {
    h.ok(&["ps", "-a", "--filter", &format!("name={name}"), "--format", "{{.State}}"]).trim().to_string()
}

/// Removes every container of the store with `rm -f` (each must succeed), prunes, and
/// returns whatever is left of them or in the store.
fn recover(h: &Hull) -> Vec<String> {
    let ids = h.ok(&["ps", "-aq", "--no-trunc"]);
    let mut left = Vec::new();
    for id in ids.lines() {
        let o = h.run(&["rm", "-f", id]);
        // Gone meanwhile: removed by its own --rm monitor, which outlived a killed client.
        if !o.status.success() && !err(&o).contains("No such container") {
            left.push(format!("rm -f {id}: {}", err(&o).trim()));
        }
    }
    h.ok(&["container", "prune", "-f"]);
    left.extend(store_leftovers(h));
    for id in ids.lines() {
        left.extend(leftovers(h, id).into_iter().map(|l| format!("{}: {l}", &id[..12])));
    }
    left
}

/// Each crash point in turn: a command killed there, then the recovery a user would do
/// (`rm -f`, `prune`, or the verb again); nothing is left and the name runs again.
#[test]
fn every_crash_point_is_recovered() {
    let h = busybox_store("walk");
    let reg = Registry::start_in(h.t.path(), None, &h.net);
    let archive = h.t.path().join("busybox.tar");
    h.ok(&["save", "-o", archive.to_str().unwrap(), "busybox"]);
    let rootfs = h.t.path().join("rootfs");
    for (point, step) in hull_engine::fault::POINTS {
        eprintln!("crash point {point}: {step}");
        let faulty = |args: &[&str]| h.cmd().env("HULL_FAULT", point).args(args).output().unwrap();
        match *point {
            "create-dir" | "create-claimed" | "create-before-record" => {
                killed(&faulty(&["run", "--rm", "--name", "walk", "busybox", "true"]), point);
                // Listed from the first thing it claimed, as dead; start says what it is.
                let ids = h.ok(&["ps", "-aq"]);
                assert_eq!(ids.lines().count(), 1, "{point}: ps -a lists it");
                assert_eq!(h.ok(&["ps", "-a", "--format", "{{.State}}"]).trim(), "dead", "{point}");
                let o = h.run(&["start", ids.trim()]);
                assert!(err(&o).contains("never fully created"), "{point}: {}", err(&o));
            }
            "start-spawned" => {
                // The starter dies; its monitor starts the container all the same.
                killed(&faulty(&["run", "-d", "--name", "walk", "busybox", "sleep", "100"]), point);
                let until = Instant::now() + Duration::from_secs(10);
                while status(&h, "walk") != "running" && Instant::now() < until {
                    std::thread::sleep(Duration::from_millis(20));
                }
                assert_eq!(status(&h, "walk"), "running", "{point}");
                h.ok(&["exec", "walk", "true"]);
            }
            "runtime-cgroups" | "network-leased" | "monitor-created" => {
                // The monitor dies before the start: run says so, and start starts it.
                let o = faulty(&["run", "-d", "--name", "walk", "busybox", "sleep", "100"]);
                assert_eq!(o.status.code(), Some(125), "{point}: {}", err(&o));
                assert!(err(&o).contains("died before the container started"), "{point}: {}", err(&o));
                assert_eq!(status(&h, "walk"), "created", "{point}");
                h.ok(&["start", "walk"]);
                assert_eq!(status(&h, "walk"), "running", "{point}");
                h.ok(&["exec", "walk", "true"]);
            }
            "monitor-started" => {
                let o = faulty(&["run", "-d", "--name", "walk", "busybox", "sleep", "100"]);
                assert_eq!(o.status.code(), Some(125), "{point}: {}", err(&o));
                assert!(err(&o).contains("runs unmonitored"), "{point}: {}", err(&o));
                assert_eq!(status(&h, "walk"), "running", "{point}");
            }
            "monitor-exited" => {
                let o = faulty(&["run", "--rm", "--name", "walk", "busybox", "true"]);
                assert_eq!(o.status.code(), Some(125), "{point}: {}", err(&o));
                assert_eq!(err(&o).lines().count(), 1, "{point}: {}", err(&o));
                assert_eq!(status(&h, "walk"), "dead", "{point}");
            }
            "stop-signalled" => {
                // busybox sleep as pid 1 ignores SIGTERM: only the SIGKILL that the dead
                // stop never sent would end it. A second stop does.
                h.ok(&["run", "-d", "--name", "walk", "busybox", "sleep", "100"]);
                killed(&faulty(&["stop", "walk"]), point);
                assert_eq!(status(&h, "walk"), "running", "{point}");
                h.ok(&["stop", "-t", "1", "walk"]);
                assert_eq!(status(&h, "walk"), "exited", "{point}");
            }
            "remove-rootfs" => {
                // An rm killed half way, then a --rm monitor killed half way.
                h.ok(&["run", "-d", "--name", "walk", "busybox", "sleep", "100"]);
                killed(&faulty(&["rm", "-f", "walk"]), point);
                assert_eq!(h.ok(&["ps", "-aq"]).lines().count(), 1, "{point}: ps -a lists it");
                let left = recover(&h);
                assert!(left.is_empty(), "{point} (rm): {left:?}");
                faulty(&["run", "--rm", "--name", "walk", "busybox", "true"]);
                assert_eq!(h.ok(&["ps", "-aq"]).lines().count(), 1, "{point}: ps -a lists it");
            }
            "commit-paused" => {
                h.ok(&["run", "-d", "--name", "walk", "busybox", "sleep", "100"]);
                killed(&faulty(&["commit", "walk", "walk:img"]), point);
                assert_eq!(status(&h, "walk"), "running", "{point}: thawed by the next reader");
                h.ok(&["exec", "walk", "true"]);
            }
            "image-before-record" => {
                // Import, load and commit killed with their blobs stored and no image
                // recorded: image prune collects what they stored; a retry works.
                let blobs = h.entries("blobs/sha256");
                std::fs::create_dir_all(&rootfs).unwrap();
                std::fs::write(rootfs.join("f"), "x").unwrap();
                killed(&faulty(&["import", rootfs.to_str().unwrap(), "walk:imported"]), point);
                killed(&faulty(&["load", "-i", archive.to_str().unwrap()]), point);
                h.ok(&["run", "-d", "--name", "walk", "busybox", "sh", "-c", "echo x > /x; sleep 100"]);
                killed(&faulty(&["commit", "walk", "walk:img"]), point);
                assert_eq!(h.ok(&["images", "-q"]).lines().count(), 1, "{point}: no image recorded");
                h.ok(&["image", "prune", "-f"]);
                let mut now = h.entries("blobs/sha256");
                now.sort();
                let mut before = blobs.clone();
                before.sort();
                assert_eq!(now, before, "{point}: the blobs of the killed writers are collected");
                h.ok(&["import", rootfs.to_str().unwrap(), "walk:imported"]);
                h.ok(&["load", "-i", archive.to_str().unwrap()]);
                h.ok(&["commit", "walk", "walk:img"]);
                h.ok(&["rmi", "walk:imported"]);
                h.ok(&["rm", "-f", "walk"]);
                h.ok(&["rmi", "walk:img"]);
            }
            "layer-downloaded" => {
                // A pull killed with a layer's bytes all in tmp/: prune -a removes the
                // download, a retry pulls whole.
                let name = format!("{}/hull/walk:1", reg.host());
                h.ok(&["tag", "busybox", &name]);
                h.ok(&["push", &name]);
                let h2 = Hull::beside(&h.t.path().join("second"), &h);
                killed(&h2.cmd().env("HULL_FAULT", point).args(["pull", &name]).output().unwrap(), point);
                assert!(h2.entries("tmp").iter().any(|e| e.ends_with(".partial")), "{point}: {:?}", h2.entries("tmp"));
                h2.ok(&["image", "prune", "-a", "-f"]);
                assert!(h2.entries("tmp").is_empty(), "{point}: {:?}", h2.entries("tmp"));
                assert!(h2.entries("blobs/sha256").is_empty(), "{point}: {:?}", h2.entries("blobs/sha256"));
                h2.ok(&["pull", &name]);
                h2.ok(&["run", "--rm", &name, "true"]);
                assert!(store_leftovers(&h2).is_empty(), "{point}: {:?}", store_leftovers(&h2));
                h.ok(&["rmi", &name]);
            }
            other => panic!("crash point {other} has no scenario here: add one"),
        }
        let left = recover(&h);
        assert!(left.is_empty(), "{point}: {left:?}");
        // The name is free again, and a container runs under it.
        h.ok(&["run", "--rm", "--name", "walk", "busybox", "true"]);
        let left = recover(&h);
        assert!(left.is_empty(), "{point}, after a run: {left:?}");
    }
}

/// xorshift64*: the soak's choices, reproducible from the seed it prints.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

/// The pids of the store's monitors (`hull __monitor ROOT ID`).
fn monitors(h: &Hull) -> Vec<i32> {
    let root = h.root.to_string_lossy().into_owned();
    let mut out = Vec::new();
    for p in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = p.file_name().to_string_lossy().parse::<i32>() else { continue };
        let cmd = String::from_utf8_lossy(&std::fs::read(p.path().join("cmdline")).unwrap_or_default()).into_owned();
        if cmd.contains("__monitor") && cmd.contains(&root) {
            out.push(pid);
        }
    }
    out
}

/// The children of `parents` (the containers' inits, whose parent is their monitor).
fn children(parents: &[i32]) -> Vec<i32> {
    let mut out = Vec::new();
    for p in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = p.file_name().to_string_lossy().parse::<i32>() else { continue };
        let stat = std::fs::read_to_string(p.path().join("stat")).unwrap_or_default();
        let ppid = stat.rfind(')').and_then(|i| stat[i + 2..].split_whitespace().nth(1)?.parse::<i32>().ok());
        if ppid.is_some_and(|pp| parents.contains(&pp)) {
            out.push(pid);
        }
    }
    out
}

/// kill -9 of the client, the monitor or the container's init at a random moment
/// 0-40 ms into `run` (foreground, detached, --rm), `rm -f` or `stop`, a few hundred times
/// (`HULL_SOAK_ITERATIONS`, default 200; `HULL_SOAK_SEED` replays a run). Every client
/// returns, every name is free again, and after `rm -f` and `prune` nothing is left.
#[test]
fn kill_9_at_random_moments_leaves_nothing() {
    let h = busybox_store("soak");
    let iterations: u64 = std::env::var("HULL_SOAK_ITERATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    let seed: u64 = std::env::var("HULL_SOAK_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1
    });
    eprintln!("soak: seed {seed} (HULL_SOAK_SEED replays it), {iterations} iterations");
    let mut rng = Rng(seed);
    // The last two act on a container already running.
    let verbs: [&[&str]; 5] = [
        &["run", "--rm", "--name", "soak", "busybox", "true"],
        &["run", "-d", "--name", "soak", "-P", "--expose", "80", "busybox", "sleep", "100"],
        &["run", "--name", "soak", "busybox", "sh", "-c", "echo out; sleep 0.02"],
        &["rm", "-f", "soak"],
        &["stop", "-t", "0", "soak"],
    ];
    let victims = ["hull", "monitor", "init"];
    let mut kills = [0u32; 3];
    let mut leaks = Vec::new();
    let started = Instant::now();
    for i in 0..iterations {
        let verb = verbs[rng.below(verbs.len() as u64) as usize];
        let v = rng.below(victims.len() as u64) as usize;
        let delay = Duration::from_millis(rng.below(41));
        let what = format!("#{i} {} killed {delay:?} into {verb:?}", victims[v]);
        if verb[0] != "run" {
            h.ok(&["run", "-d", "--name", "soak", "busybox", "sleep", "100"]);
        }
        let child = h.cmd().args(verb).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("spawn hull");
        std::thread::sleep(delay);
        let targets = match victims[v] {
            "hull" => vec![child.id() as i32],
            "monitor" => monitors(&h),
            _ => children(&monitors(&h)),
        };
        for pid in &targets {
            // SAFETY: kill of a process of this test's own store.
            unsafe { libc::kill(*pid, libc::SIGKILL) };
        }
        if !targets.is_empty() {
            kills[v] += 1;
        }
        let o = wait_exit(child, Duration::from_secs(30), &format!("{what}: the client"));
        let e = err(&o);
        assert!(!e.contains("already in use") && !e.contains("panicked"), "{what}: {e}");
        let left = recover(&h);
        if !left.is_empty() {
            eprintln!("{what}: left {left:?}");
            leaks.push((what, left));
        }
    }
    eprintln!(
        "soak: {iterations} iterations in {:.1} s; kills: hull {}, monitor {}, init {}; leaks: {}",
        started.elapsed().as_secs_f64(),
        kills[0],
        kills[1],
        kills[2],
        leaks.len()
    );
    assert!(leaks.is_empty(), "seed {seed}: {leaks:?}");
}

/// Verbs racing on one container end in one truthful state: parallel starts (one
/// starts it, the others see it running and succeed, one monitor), start against
/// rm -f, stop against kill against rm -f, and parallel runs with one name (one wins).
#[test]
fn parallel_verbs_on_one_container() {
    let h = busybox_store("parallel");
    for round in 0..3 {
        // start x5 of a created container.
        h.ok(&["create", "--name", "pv", "busybox", "sleep", "100"]);
        let codes: Vec<i32> = std::thread::scope(|s| {
            let all: Vec<_> = (0..5).map(|_| s.spawn(|| h.run(&["start", "pv"]))).collect();
            all.into_iter().map(|t| t.join().unwrap().status.code().unwrap_or(-1)).collect()
        });
        assert_eq!(codes, [0; 5], "round {round}: every start succeeds");
        assert_eq!(status(&h, "pv"), "running", "round {round}");
        assert_eq!(monitors(&h).len(), 1, "round {round}: one monitor");
        let pid: i32 = h.ok(&["inspect", "--format", "{{.State.Pid}}", "pv"]).trim().parse().unwrap();
        assert_eq!(children(&monitors(&h)), [pid], "round {round}: State.Pid is the monitor's child");

        // stop vs kill vs rm -f: rm -f wins whatever the order, nothing is left.
        let id = h.ok(&["inspect", "--format", "{{.Id}}", "pv"]).trim().to_string();
        let rm = std::thread::scope(|s| {
            s.spawn(|| h.run(&["stop", "-t", "1", "pv"]));
            s.spawn(|| h.run(&["kill", "pv"]));
            s.spawn(|| h.run(&["rm", "-f", "pv"])).join().unwrap()
        });
        assert!(rm.status.success(), "round {round}: {}", err(&rm));
        assert!(leftovers(&h, &id).is_empty(), "round {round}: {:?}", leftovers(&h, &id));

        // start vs rm -f of a created container.
        let id = h.ok(&["create", "--name", "pv", "busybox", "sleep", "100"]).trim().to_string();
        let (start, rm) = std::thread::scope(|s| {
            let a = s.spawn(|| h.run(&["start", "pv"]));
            let b = s.spawn(|| h.run(&["rm", "-f", "pv"]));
            (a.join().unwrap(), b.join().unwrap())
        });
        assert!(rm.status.success(), "round {round}: {}", err(&rm));
        assert!(start.status.success() || err(&start).lines().count() == 1, "round {round}: {}", err(&start));
        let left = recover(&h);
        assert!(left.is_empty() && leftovers(&h, &id).is_empty(), "round {round}: {left:?}");

        // Five runs with one name: exactly one wins, the others say the name is taken.
        let outs: Vec<Output> = std::thread::scope(|s| {
            let all: Vec<_> =
                (0..5).map(|_| s.spawn(|| h.run(&["run", "-d", "--name", "one", "busybox", "sleep", "100"]))).collect();
            all.into_iter().map(|t| t.join().unwrap()).collect()
        });
        assert_eq!(outs.iter().filter(|o| o.status.success()).count(), 1, "round {round}");
        for o in outs.iter().filter(|o| !o.status.success()) {
            assert!(err(o).contains("already in use"), "round {round}: {}", err(o));
        }
        let left = recover(&h);
        assert!(left.is_empty(), "round {round}: {left:?}");
    }
}
