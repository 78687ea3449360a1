//! hull-runtime as runc's drop-in under the real engines: containerd (through `ctr`),
//! Docker and Podman, from Debian's packages. Each test starts its own private daemon
//! (root, state, pid file and socket under its temporary directory; no network set-up,
//! no iptables), loads a busybox image built here without network (umoci makes an OCI
//! layout from a rootfs, skopeo turns it into a docker-archive), runs the lifecycle
//! through hull-runtime, and stops what it started by pid. A missing client fails the
//! test with the package to install.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The path of a client program, or a loud failure naming its package.
fn need(program: &str, package: &str) -> PathBuf {
    for dir in ["/usr/bin", "/usr/sbin", "/bin", "/sbin"] {
        let p = Path::new(dir).join(program);
        if p.exists() {
            return p;
        }
    }
    panic!("{program} is missing: apt-get install {package}");
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null()).output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"))
}

fn ok(cmd: &mut Command) -> String {
    let o = run(cmd);
    assert!(o.status.success(), "{cmd:?} failed ({}): {}", o.status, text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A busybox image as a docker-archive tagged `hull-busybox:latest`.
fn busybox_image(dir: &Path) -> PathBuf {
    let (umoci, skopeo) = (need("umoci", "umoci"), need("skopeo", "skopeo"));
    let layout = dir.join("layout");
    let bundle = dir.join("image-bundle");
    ok(Command::new(&umoci).args(["init", "--layout"]).arg(&layout));
    ok(Command::new(&umoci).args(["new", "--image"]).arg(format!("{}:latest", layout.display())));
    ok(Command::new(&umoci).args(["unpack", "--image"]).arg(format!("{}:latest", layout.display())).arg(&bundle));
    let bin = bundle.join("rootfs/bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy("/bin/busybox", bin.join("busybox")).expect("/bin/busybox: apt-get install busybox-static");
    for a in ["sh", "echo", "cat", "sleep", "tty", "id", "ls", "grep", "true"] {
        std::os::unix::fs::symlink("busybox", bin.join(a)).unwrap();
    }
    std::fs::create_dir_all(bundle.join("rootfs/etc")).unwrap();
    std::fs::write(bundle.join("rootfs/etc/passwd"), "root:x:0:0:root:/:/bin/sh\n").unwrap();
    std::fs::write(bundle.join("rootfs/etc/group"), "root:x:0:\n").unwrap();
    ok(Command::new(&umoci).args(["repack", "--image"]).arg(format!("{}:latest", layout.display())).arg(&bundle));
    let tar = dir.join("busybox.tar");
    ok(Command::new(&skopeo)
        .args(["copy", "--quiet"])
        .arg(format!("oci:{}:latest", layout.display()))
        .arg(format!("docker-archive:{}:hull-busybox:latest", tar.display())));
    tar
}

/// A daemon this test started: SIGTERM on drop, SIGKILL after 15 s, then every process
/// left that names the test's directory (containerd's shims outlive containerd by
/// design) is ended by its pid, and mounts left under the directory are detached.
struct Daemon {
    child: Child,
    dir: PathBuf,
}

impl Daemon {
    fn start(cmd: &mut Command, dir: &Path, socket: &Path, log: &Path) -> Daemon {
        let log = std::fs::File::create(log).unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
        let d = Daemon { child, dir: dir.to_owned() };
        let start = Instant::now();
        while !socket.exists() {
            assert!(start.elapsed() < Duration::from_secs(60), "{cmd:?} did not make {}", socket.display());
            std::thread::sleep(Duration::from_millis(50));
        }
        d
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // SAFETY: signalling our own child by its pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let start = Instant::now();
        while self.child.try_wait().ok().flatten().is_none() {
            if start.elapsed() > Duration::from_secs(15) {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        end_processes_naming(&self.dir);
        detach_mounts_under(&self.dir);
    }
}

/// Ends (SIGKILL, by pid) every process whose command line names `dir`.
fn end_processes_naming(dir: &Path) {
    let needle = dir.to_string_lossy().into_owned();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else { continue };
        let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        if pid != std::process::id() as i32 && String::from_utf8_lossy(&cmdline).contains(&needle) {
            // SAFETY: kill by pid of a process this test's daemon started.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

fn argv(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn detach_mounts_under(dir: &Path) {
    let mut points: Vec<String> = mounts_mentioning(&dir.to_string_lossy())
        .iter()
        .filter_map(|l| l.split(' ').nth(4).map(str::to_owned))
        .filter(|p| p.starts_with(&*dir.to_string_lossy()))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        let _ = nix::mount::umount2(p.as_str(), nix::mount::MntFlags::MNT_DETACH);
    }
}

/// Waits until `probe` is true (at most 20 s).
fn eventually(what: &str, mut probe: impl FnMut() -> bool) {
    let start = Instant::now();
    while !probe() {
        assert!(start.elapsed() < Duration::from_secs(20), "never: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The value of a container's cgroup file, in whichever hierarchy has it.
fn cgroup_value(path: &str, files: &[&str]) -> String {
    for d in cgroup_dirs_left(path) {
        for f in files {
            if let Ok(v) = std::fs::read_to_string(d.join(f)) {
                return v.trim().to_owned();
            }
        }
    }
    panic!("no {files:?} for cgroup {path}");
}

/// Removes an engine's parent cgroup `path` and the empty directories below it (its
/// conmon cgroup, say) in every hierarchy, deepest first.
fn remove_cgroup_tree(path: &str) {
    fn rm(d: &Path) {
        for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                rm(&e.path());
            }
        }
        let _ = std::fs::remove_dir(d);
    }
    for d in cgroup_dirs_left(path) {
        rm(&d);
    }
}

/// Runs its closure on drop: cleanup that must happen when an assertion fails too.
struct OnDrop<F: FnMut()>(F);

impl<F: FnMut()> Drop for OnDrop<F> {
    fn drop(&mut self) {
        (self.0)()
    }
}

/// A private containerd under `d` (no CRI plugin; its `opt` plugin installs into `d`
/// instead of /opt/containerd); returns it and its socket.
fn start_containerd(containerd: &Path, d: &Path) -> (Daemon, PathBuf) {
    let sock = d.join("containerd.sock");
    let config = d.join("containerd.toml");
    std::fs::write(
        &config,
        format!(
            "version = 2\nroot = \"{0}/root\"\nstate = \"{0}/state\"\n\
             disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
             [grpc]\n  address = \"{1}\"\n[ttrpc]\n  address = \"{1}.ttrpc\"\n\
             [debug]\n  address = \"{0}/debug.sock\"\n\
             [plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"{0}/opt\"\n",
            d.display(),
            sock.display()
        ),
    )
    .unwrap();
    let daemon =
        Daemon::start(Command::new(containerd).arg("--config").arg(&config), d, &sock, &d.join("containerd.log"));
    (daemon, sock)
}

#[test]
fn containerd_runs_its_lifecycle_on_hull() {
    let tmp = TempDir::new("eng-containerd");
    let (containerd, ctr) = (need("containerd", "containerd"), need("ctr", "containerd"));
    need("containerd-shim-runc-v2", "containerd");
    let image = busybox_image(&tmp.0);
    let (_daemon, sock) = start_containerd(&containerd, &tmp.0);
    let ns = format!("hull-it-{}", std::process::id());
    let _cgroups = OnDrop(|| remove_cgroup_tree(&format!("/{ns}")));
    let ctr = |args: &[&str]| {
        let mut c = Command::new(&ctr);
        c.arg("--address").arg(&sock).args(["--namespace", &ns]).args(args);
        c
    };
    ok(ctr(&["images", "import"]).arg(&image));
    let img = "docker.io/library/hull-busybox:latest";

    // run --rm: output and exit codes.
    let out = ok(&mut ctr(&["run", "--rm", "--runc-binary", BIN, img, "c-echo", "echo", "hello"]));
    assert_eq!(out.trim(), "hello");
    let o = run(&mut ctr(&["run", "--rm", "--runc-binary", BIN, img, "c-exit", "sh", "-c", "exit 3"]));
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    // The runtime's own message reaches the user.
    let o = run(&mut ctr(&["run", "--rm", "--runc-binary", BIN, img, "c-bad", "/nonexistent"]));
    assert!(!o.status.success() && text(&o).contains("stat /nonexistent: no such file or directory"), "{}", text(&o));
    let _ = run(&mut ctr(&["containers", "rm", "c-bad"]));

    // run -d with a memory limit, exec, pause/resume, kill, delete.
    ok(&mut ctr(&["run", "-d", "--runc-binary", BIN, "--memory-limit", "67108864", img, "c-bg", "sleep", "1000"]));
    let cgroup = format!("/{ns}/c-bg");
    assert_eq!(cgroup_value(&cgroup, &["memory.limit_in_bytes", "memory.max"]), "67108864");
    let o = run(&mut ctr(&["tasks", "exec", "--exec-id", "e1", "c-bg", "sh", "-c", "echo in-exec; exit 5"]));
    assert_eq!((o.status.code(), String::from_utf8_lossy(&o.stdout).trim()), (Some(5), "in-exec"), "{}", text(&o));
    let status = || ok(&mut ctr(&["tasks", "ls"]));
    ok(&mut ctr(&["tasks", "pause", "c-bg"]));
    assert!(status().contains("PAUSED"), "{}", status());
    ok(&mut ctr(&["tasks", "resume", "c-bg"]));
    assert!(status().contains("RUNNING"), "{}", status());
    let ps = ok(&mut ctr(&["tasks", "ps", "c-bg"]));
    assert!(ps.lines().count() >= 2, "{ps}");
    ok(&mut ctr(&["tasks", "kill", "--signal", "SIGKILL", "c-bg"]));
    eventually("c-bg stopped", || status().contains("STOPPED"));
    ok(&mut ctr(&["tasks", "delete", "c-bg"]));
    ok(&mut ctr(&["containers", "rm", "c-bg"]));
    assert!(cgroup_dirs_left(&cgroup).is_empty(), "the container's cgroup is gone");
}

#[test]
fn docker_runs_its_lifecycle_on_hull() {
    let tmp = TempDir::new("eng-docker");
    let dockerd = need("dockerd", "docker.io");
    let containerd = need("containerd", "containerd");
    // Debian's client: another docker on PATH may be newer than the daemon.
    let docker = need("docker", "docker.io");
    let image = busybox_image(&tmp.0);
    let d = &tmp.0;
    let sock = d.join("docker.sock");
    std::fs::write(d.join("daemon.json"), "{}").unwrap();
    let parent = format!("/hull-it-docker-{}", std::process::id());
    let _cgroups = OnDrop(|| remove_cgroup_tree(&parent));
    // Its own containerd, not the one dockerd would start with default paths.
    let ctd_dir = d.join("containerd");
    std::fs::create_dir_all(&ctd_dir).unwrap();
    let (_containerd, ctd_sock) = start_containerd(&containerd, &ctd_dir);
    let _daemon = Daemon::start(
        Command::new(&dockerd)
            .arg("--config-file")
            .arg(d.join("daemon.json"))
            .arg("--data-root")
            .arg(d.join("root"))
            .arg("--exec-root")
            .arg(d.join("exec"))
            .arg("--pidfile")
            .arg(d.join("docker.pid"))
            .arg("--host")
            .arg(format!("unix://{}", sock.display()))
            .args(["--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-forward=false"])
            .args(["--ip-masq=false", "--userland-proxy=false", "--cgroup-parent", &parent])
            .arg("--containerd")
            .arg(&ctd_sock)
            .arg("--add-runtime")
            .arg(format!("hull={BIN}")),
        d,
        &sock,
        &d.join("log"),
    );
    let docker = |args: &[&str]| {
        let mut c = Command::new(&docker);
        c.arg("--host").arg(format!("unix://{}", sock.display())).args(args);
        c
    };
    ok(docker(&["load", "--input"]).arg(&image));
    let img = "hull-busybox:latest";
    let out = ok(&mut docker(&["run", "--rm", "--runtime", "hull", img, "echo", "hi"]));
    assert_eq!(out.trim(), "hi");
    // -t: a terminal through --console-socket.
    let out = ok(&mut docker(&["run", "--rm", "-t", "--runtime", "hull", img, "tty"]));
    assert!(out.trim().starts_with("/dev/pts/"), "{out}");
    // Exit codes, Docker's 126 and 127 from the runtime's messages.
    for (cmd, code) in [(vec!["sh", "-c", "exit 7"], 7), (vec!["/etc"], 126), (vec!["nosuchcmd"], 127)] {
        let o = run(docker(&["run", "--rm", "--runtime", "hull", img]).args(&cmd));
        assert_eq!(o.status.code(), Some(code), "{cmd:?}: {}", text(&o));
    }
    let o = run(&mut docker(&["run", "--rm", "--runtime", "hull", img, "/nonexistent"]));
    assert!(text(&o).contains("stat /nonexistent: no such file or directory"), "{}", text(&o));

    ok(&mut docker(&["run", "-d", "--name", "d-bg", "--runtime", "hull", "--memory", "64m", img, "sleep", "1000"]));
    let id = ok(&mut docker(&["inspect", "--format", "{{.Id}}", "d-bg"])).trim().to_owned();
    let cgroup = format!("{parent}/{id}");
    assert_eq!(cgroup_value(&cgroup, &["memory.limit_in_bytes", "memory.max"]), "67108864");
    let o = run(&mut docker(&["exec", "d-bg", "sh", "-c", "echo in-exec; exit 4"]));
    assert_eq!((o.status.code(), String::from_utf8_lossy(&o.stdout).trim()), (Some(4), "in-exec"), "{}", text(&o));
    ok(&mut docker(&["pause", "d-bg"]));
    assert_eq!(ok(&mut docker(&["inspect", "--format", "{{.State.Paused}}", "d-bg"])).trim(), "true");
    ok(&mut docker(&["unpause", "d-bg"]));
    ok(&mut docker(&["update", "--memory", "128m", "--memory-swap", "256m", "d-bg"]));
    assert_eq!(cgroup_value(&cgroup, &["memory.limit_in_bytes", "memory.max"]), "134217728");
    let top = ok(&mut docker(&["top", "d-bg"]));
    assert!(top.contains("sleep 1000"), "{top}");
    // sleep as pid 1 ignores SIGTERM: stop ends it with SIGKILL after the timeout.
    ok(&mut docker(&["stop", "--time", "1", "d-bg"]));
    assert_eq!(ok(&mut docker(&["inspect", "--format", "{{.State.ExitCode}}", "d-bg"])).trim(), "137");
    ok(&mut docker(&["rm", "d-bg"]));
    assert!(cgroup_dirs_left(&cgroup).is_empty(), "the container's cgroup is gone");
}

#[test]
fn podman_runs_its_lifecycle_on_hull() {
    let tmp = TempDir::new("eng-podman");
    let podman = need("podman", "podman");
    need("conmon", "conmon");
    let image = busybox_image(&tmp.0);
    let d = tmp.0.clone();
    let parent = format!("/hull-it-podman-{}", std::process::id());
    // Podman's default rlimits (1048576 files and processes) need CAP_SYS_RESOURCE,
    // which our machines' root lacks: ask for modest ones under the hard limits.
    let hard = |r| nix::sys::resource::getrlimit(r).unwrap().1;
    let nofile = hard(nix::sys::resource::Resource::RLIMIT_NOFILE).min(1024);
    let nproc = hard(nix::sys::resource::Resource::RLIMIT_NPROC).min(4096);
    let limits = [format!("nofile={nofile}:{nofile}"), format!("nproc={nproc}:{nproc}")];
    let podman = |args: &[&str]| {
        let mut c = Command::new(&podman);
        c.arg("--root")
            .arg(d.join("root"))
            .arg("--runroot")
            .arg(d.join("run"))
            .arg("--tmpdir")
            .arg(d.join("tmp"))
            .args(["--cgroup-manager", "cgroupfs", "--events-backend", "file", "--storage-driver", "overlay"])
            .args(["--runtime", BIN])
            .args(args);
        c
    };
    let run_args = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = ["run", "--network", "none", "--cgroup-parent", &parent].map(String::from).to_vec();
        for l in &limits {
            v.push("--ulimit".into());
            v.push(l.clone());
        }
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    // Podman has no daemon: its storage mount, conmon and cgroups go on failure too.
    let _cleanup = OnDrop(|| {
        let _ = run(&mut podman(&["system", "reset", "--force"]));
        end_processes_naming(&d);
        detach_mounts_under(&d);
        remove_cgroup_tree(&parent);
    });
    ok(podman(&["load", "--quiet", "--input"]).arg(&image));
    let img = "docker.io/library/hull-busybox:latest";
    let out = ok(&mut podman(&argv(&run_args(&["--rm", img, "echo", "hi"]))));
    assert_eq!(out.trim(), "hi");
    let o = run(&mut podman(&argv(&run_args(&["--rm", img, "sh", "-c", "exit 6"]))));
    assert_eq!(o.status.code(), Some(6), "{}", text(&o));

    let id = ok(&mut podman(&argv(&run_args(&["-d", "--name", "p-bg", img, "sleep", "1000"])))).trim().to_owned();
    let o = run(&mut podman(&["exec", "p-bg", "sh", "-c", "echo in-exec; exit 3"]));
    assert_eq!((o.status.code(), String::from_utf8_lossy(&o.stdout).trim()), (Some(3), "in-exec"), "{}", text(&o));
    assert!(
        cgroup_dirs_left(&format!("{parent}/libpod-{id}")).len() + cgroup_dirs_left(&format!("{parent}/{id}")).len()
            > 0
    );
    ok(&mut podman(&["stop", "--time", "1", "p-bg"]));
    let state = ok(&mut podman(&["inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", "p-bg"]));
    assert_eq!(state.trim(), "exited 137");
    ok(&mut podman(&["rm", "p-bg"]));
    assert!(ok(&mut podman(&["ps", "--all", "--quiet"])).trim().is_empty());
}
