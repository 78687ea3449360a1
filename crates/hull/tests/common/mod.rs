//! Fixtures for the engine's tests: a private store root per test, a busybox root
//! filesystem from Debian's busybox-static (no network), and the reference tools
//! (skopeo, umoci) found or the test fails loudly.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_hull");

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("hull-it-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A network namespace of the test's own, held by a descriptor (no process): hull's
/// bridges, veths, nftables table and sysctls made in it live and die with it, never
/// on the machine's own network.
pub struct NetNs(pub std::fs::File);

impl NetNs {
    /// A new namespace with loopback up (a thread unshares, opens it and ends).
    pub fn new() -> NetNs {
        let f = std::thread::spawn(|| {
            // SAFETY: unshare(2) of this thread's network namespace only.
            assert_eq!(unsafe { libc::unshare(libc::CLONE_NEWNET) }, 0, "unshare a network namespace for the test");
            let st = Command::new("ip").args(["link", "set", "lo", "up"]).status().expect("run ip (iproute2)");
            assert!(st.success(), "ip link set lo up");
            std::fs::File::open("/proc/thread-self/ns/net").unwrap()
        })
        .join()
        .unwrap();
        NetNs(f)
    }

    /// The namespace this process is in (the machine's).
    pub fn ours() -> NetNs {
        NetNs(std::fs::File::open("/proc/self/ns/net").unwrap())
    }

    /// `prog` run inside the namespace.
    pub fn cmd(&self, prog: impl AsRef<std::ffi::OsStr>) -> Command {
        use std::os::fd::AsRawFd;
        use std::os::unix::process::CommandExt;
        let mut c = Command::new(prog);
        let fd = self.0.as_raw_fd();
        // SAFETY: setns(2) is async-signal-safe; the descriptor outlives the spawn.
        unsafe {
            c.pre_exec(move || {
                if libc::setns(fd, libc::CLONE_NEWNET) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        c
    }

    /// Moves the calling thread into the namespace (for tests that drive the engine
    /// library: the monitors it spawns inherit it).
    pub fn enter(&self) {
        use std::os::fd::AsRawFd;
        // SAFETY: setns(2) of this thread with a descriptor we hold.
        assert_eq!(unsafe { libc::setns(self.0.as_raw_fd(), libc::CLONE_NEWNET) }, 0, "setns");
    }
}

/// "The internet": a namespace at 192.0.2.1 behind a veth pair from the store's
/// namespace (192.0.2.2, its default route), serving `hello from the internet` on
/// port 8080. Its processes end with it.
pub struct Internet {
    pub ns: NetNs,
    server: std::process::Child,
    www: PathBuf,
    server6: Option<std::process::Child>,
}

impl Internet {
    /// Joined to namespace `net`; its web root is `www` (in the test's own directory,
    /// removed with it).
    pub fn new(net: &NetNs, www: &Path) -> Internet {
        let ns = NetNs::new();
        std::fs::create_dir_all(www).unwrap();
        std::fs::write(www.join("hello"), "hello from the internet\n").unwrap();
        // A process of the namespace names it for `ip link … netns`.
        let mut holder = ns.cmd("sleep").arg("600").spawn().expect("sleep");
        let pid = holder.id().to_string();
        ok_in(net.cmd("ip").args(["link", "add", "up0", "type", "veth", "peer", "name", "up1", "netns", &pid]));
        let _ = holder.kill();
        let _ = holder.wait();
        ok_in(ns.cmd("ip").args(["addr", "add", "192.0.2.1/24", "dev", "up1"]));
        ok_in(ns.cmd("ip").args(["link", "set", "up1", "up"]));
        let server = ns
            .cmd(busybox())
            .args(["httpd", "-f", "-p", "192.0.2.1:8080", "-h"])
            .arg(www)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("busybox httpd");
        ok_in(net.cmd("ip").args(["addr", "add", "192.0.2.2/24", "dev", "up0"]));
        ok_in(net.cmd("ip").args(["link", "set", "up0", "up"]));
        ok_in(net.cmd("ip").args(["route", "add", "default", "via", "192.0.2.1"]));
        Internet { ns, server, www: www.to_owned(), server6: None }
    }

    /// IPv6 too: 2001:db8::1 (its HTTP server on port 8080 there as well) and the host
    /// 2001:db8::2, with a default route through it. (Addresses without duplicate
    /// address detection, usable at once.)
    pub fn add_ipv6(&mut self, net: &NetNs) {
        ok_in(self.ns.cmd("ip").args(["addr", "add", "2001:db8::1/64", "dev", "up1", "nodad"]));
        ok_in(net.cmd("ip").args(["addr", "add", "2001:db8::2/64", "dev", "up0", "nodad"]));
        ok_in(net.cmd("ip").args(["-6", "route", "add", "default", "via", "2001:db8::1"]));
        let server = self
            .ns
            .cmd(busybox())
            .args(["httpd", "-f", "-p", "[2001:db8::1]:8080", "-h"])
            .arg(&self.www)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("busybox httpd");
        self.server6 = Some(server);
    }
}

impl Drop for Internet {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
        if let Some(mut s) = self.server6.take() {
            let _ = s.kill();
            let _ = s.wait();
        }
    }
}

fn ok_in(c: &mut Command) -> String {
    let o = c.output().unwrap();
    assert!(o.status.success(), "{c:?}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `hull --root ROOT …`, run inside a network namespace of the store's own.
pub struct Hull {
    pub root: PathBuf,
    pub net: std::sync::Arc<NetNs>,
}

impl Hull {
    pub fn new(dir: &Path) -> Hull {
        Hull { root: dir.join("store"), net: std::sync::Arc::new(NetNs::new()) }
    }

    /// A store for images only, in the machine's network namespace (to reach a
    /// registry there): never run a container on the default network with it.
    pub fn on_host(dir: &Path) -> Hull {
        Hull { root: dir.join("store"), net: std::sync::Arc::new(NetNs::ours()) }
    }

    /// A second store in `other`'s network namespace.
    pub fn beside(dir: &Path, other: &Hull) -> Hull {
        Hull { root: dir.join("store"), net: other.net.clone() }
    }

    pub fn cmd(&self) -> Command {
        let mut c = self.net.cmd(BIN);
        c.arg("--root").arg(&self.root).env_remove("HULL_ROOT").stdin(Stdio::null());
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }

    /// Runs and requires success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "hull {args:?}: {}\n{}",
            String::from_utf8_lossy(&o.stderr),
            String::from_utf8_lossy(&o.stdout)
        );
        String::from_utf8(o.stdout).unwrap()
    }

    /// Runs and requires failure; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(!o.status.success(), "hull {args:?} should fail: {}", String::from_utf8_lossy(&o.stdout));
        String::from_utf8(o.stderr).unwrap()
    }

    /// Names of files under the store's directory `sub` (blobs/sha256, snapshots, tmp).
    pub fn entries(&self, sub: &str) -> Vec<String> {
        match std::fs::read_dir(self.root.join(sub)) {
            Ok(d) => d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect(),
            Err(_) => vec![],
        }
    }

    pub fn inspect(&self, image: &str) -> serde_json::Value {
        let v: serde_json::Value = serde_json::from_str(&self.ok(&["image", "inspect", image])).unwrap();
        v[0].clone()
    }
}

/// Must run as root: a test that cannot run fails loudly instead of passing.
pub fn require_root() {
    assert!(nix::unistd::geteuid().is_root(), "these integration tests unpack layers as root and must run as root");
}

/// A tool from Debian, or a loud failure naming the package.
pub fn need(tool: &str, package: &str) -> PathBuf {
    for dir in ["/usr/bin", "/usr/sbin", "/bin", "/usr/local/bin"] {
        let p = Path::new(dir).join(tool);
        if p.exists() {
            return p;
        }
    }
    panic!("{tool} is needed by this test: apt install {package} (scripts/install-deps.sh does)");
}

pub fn busybox() -> PathBuf {
    let p = Path::new("/bin/busybox");
    assert!(p.exists(), "/bin/busybox is needed: apt install busybox-static");
    p.to_owned()
}

/// A small root filesystem: busybox with a few applets, /etc/passwd and /etc/group
/// with a named user, a directory with a mode, a symlink and a hardlink.
pub fn rootfs(dir: &Path) -> PathBuf {
    let r = dir.join("rootfs");
    std::fs::create_dir_all(r.join("bin")).unwrap();
    std::fs::create_dir_all(r.join("etc")).unwrap();
    std::fs::create_dir_all(r.join("tmp")).unwrap();
    std::fs::copy(busybox(), r.join("bin/busybox")).unwrap();
    for a in ["sh", "cat", "ls", "echo", "id", "sleep", "true"] {
        std::os::unix::fs::symlink("busybox", r.join("bin").join(a)).unwrap();
    }
    std::fs::write(r.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\napp:x:1234:2345:app:/home/app:/bin/sh\n")
        .unwrap();
    std::fs::write(r.join("etc/group"), "root:x:0:\napp:x:2345:\nstaff:x:50:app\n").unwrap();
    std::fs::write(r.join("etc/motd"), "hull\n").unwrap();
    std::fs::hard_link(r.join("etc/motd"), r.join("etc/motd.hl")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(r.join("tmp"), std::fs::Permissions::from_mode(0o1777)).unwrap();
    r
}

pub fn run_ok(c: &mut Command) -> String {
    let o = c.output().unwrap();
    assert!(o.status.success(), "{c:?}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// An OCI layout made by umoci from `rootfs` (the reference implementation's own
/// layering), tagged `tag`.
pub fn umoci_layout(dir: &Path, rootfs: &Path, tag: &str) -> PathBuf {
    let umoci = need("umoci", "umoci");
    let layout = dir.join("umoci-layout");
    let bundle = dir.join("umoci-bundle");
    let image = format!("{}:{tag}", layout.display());
    run_ok(Command::new(&umoci).args(["init", "--layout"]).arg(&layout));
    run_ok(Command::new(&umoci).args(["new", "--image", &image]));
    run_ok(Command::new(&umoci).args(["unpack", "--image", &image]).arg(&bundle));
    run_ok(Command::new("cp").arg("-a").arg(format!("{}/.", rootfs.display())).arg(bundle.join("rootfs")));
    run_ok(Command::new(&umoci).args(["repack", "--image", &image]).arg(&bundle));
    run_ok(Command::new(&umoci).args([
        "config",
        "--image",
        &image,
        "--config.cmd",
        "/bin/sh",
        "--config.env",
        "A=1",
        "--config.workingdir",
        "/tmp",
        "--config.user",
        "app",
    ]));
    std::fs::remove_dir_all(&bundle).unwrap();
    layout
}

/// A free TCP port on 127.0.0.1 (bound and released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The CNCF registry from Debian's docker-registry package on 127.0.0.1, storing under
/// the test's directory, with htpasswd basic auth if `user` is given; ended by pid.
pub struct Registry {
    pub port: u16,
    child: std::process::Child,
}

impl Registry {
    /// A registry on 127.0.0.1 of the machine's network namespace.
    pub fn start(dir: &Path, user: Option<(&str, &str)>) -> Registry {
        Registry::start_in(dir, user, &NetNs::ours())
    }

    /// A registry on 127.0.0.1 of network namespace `net`.
    pub fn start_in(dir: &Path, user: Option<(&str, &str)>, net: &NetNs) -> Registry {
        let bin = need("docker-registry", "docker-registry");
        let port = free_port();
        let d = dir.join(format!("registry-{port}"));
        std::fs::create_dir_all(&d).unwrap();
        let mut cfg = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            d.join("data").display()
        );
        if let Some((u, p)) = user {
            let htpasswd = need("htpasswd", "apache2-utils");
            let out = run_ok(Command::new(htpasswd).args(["-Bbn", u, p]));
            std::fs::write(d.join("htpasswd"), out).unwrap();
            cfg.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: hull-test\n    path: {}\n",
                d.join("htpasswd").display()
            ));
        }
        std::fs::write(d.join("config.yml"), cfg).unwrap();
        let log = std::fs::File::create(d.join("log")).unwrap();
        let child = net
            .cmd(bin)
            .arg("serve")
            .arg(d.join("config.yml"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let r = Registry { port, child };
        let listening = std::thread::scope(|s| {
            s.spawn(|| {
                net.enter();
                (0..200).any(|_| {
                    let up = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
                    if !up {
                        std::thread::sleep(std::time::Duration::from_millis(25));
                    }
                    up
                })
            })
            .join()
            .unwrap()
        });
        if listening {
            return r;
        }
        panic!(
            "docker-registry did not listen on 127.0.0.1:{port}: {}",
            std::fs::read_to_string(d.join("log")).unwrap_or_default()
        );
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A layout made by umoci with two layers: busybox and friends, then a layer that adds
/// /etc/second and deletes /etc/motd.hl (a whiteout).
pub fn umoci_two_layers(dir: &Path, rootfs: &Path, tag: &str) -> PathBuf {
    let layout = umoci_layout(dir, rootfs, tag);
    let umoci = need("umoci", "umoci");
    let image = format!("{}:{tag}", layout.display());
    let bundle = dir.join("umoci-bundle2");
    run_ok(Command::new(&umoci).args(["unpack", "--image", &image]).arg(&bundle));
    std::fs::write(bundle.join("rootfs/etc/second"), "layer two\n").unwrap();
    std::fs::remove_file(bundle.join("rootfs/etc/motd.hl")).unwrap();
    run_ok(Command::new(&umoci).args(["repack", "--image", &image]).arg(&bundle));
    std::fs::remove_dir_all(&bundle).unwrap();
    layout
}

/// A TCP proxy to 127.0.0.1:`to` that records what clients send and can slow what
/// they receive (to cut a pull off halfway).
pub struct Proxy {
    pub port: u16,
    pub requests: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    pub slow: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Proxy {
    pub fn start(to: u16) -> Proxy {
        use std::io::{Read, Write};
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let slow = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (req, sl) = (requests.clone(), slow.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = std::net::TcpStream::connect(("127.0.0.1", to)) else { continue };
                let (mut c_in, mut s_out) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let req = req.clone();
                std::thread::spawn(move || {
                    let mut buf = [0u8; 16384];
                    while let Ok(n) = c_in.read(&mut buf) {
                        if n == 0 || s_out.write_all(&buf[..n]).is_err() {
                            break;
                        }
                        req.lock().unwrap().push(String::from_utf8_lossy(&buf[..n]).into_owned());
                    }
                    let _ = s_out.shutdown(std::net::Shutdown::Write);
                });
                let (mut s_in, mut c_out) = (server, client);
                let sl = sl.clone();
                std::thread::spawn(move || {
                    let mut buf = [0u8; 16384];
                    loop {
                        let chunk = if sl.load(Ordering::Relaxed) { 4096 } else { buf.len() };
                        match s_in.read(&mut buf[..chunk]) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => {
                                if c_out.write_all(&buf[..n]).is_err() {
                                    break;
                                }
                            }
                        }
                        if sl.load(Ordering::Relaxed) {
                            std::thread::sleep(std::time::Duration::from_millis(5));
                        }
                    }
                    let _ = c_out.shutdown(std::net::Shutdown::Write);
                });
            }
        });
        Proxy { port, requests, slow }
    }

    pub fn sent(&self) -> String {
        self.requests.lock().unwrap().join("")
    }
}

/// Everything a container may leave on the host, by id: its directory, runtime state,
/// mounts, cgroups in every hierarchy, processes (in its cgroup, as its init and what
/// that started; or naming it on their command line, as its monitor).
pub fn leftovers(h: &Hull, id: &str) -> Vec<String> {
    let mut found = Vec::new();
    if h.root.join("containers").join(id).exists() {
        found.push("directory".to_string());
    }
    if h.root.join("runtime").join(id).exists() {
        found.push("runtime state".to_string());
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    if mounts.contains(id) {
        found.push("mount".to_string());
    }
    for base in ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"] {
        if Path::new(base).join("hull").join(id).exists() {
            found.push(format!("cgroup in {base}"));
        }
        for c in std::fs::read_dir(base).into_iter().flatten().flatten() {
            if c.path().join("hull").join(id).exists() {
                found.push(format!("cgroup {}", c.path().display()));
            }
        }
    }
    for p in std::fs::read_dir("/proc").unwrap().flatten() {
        let cmd = std::fs::read(p.path().join("cmdline")).unwrap_or_default();
        let cgroup = std::fs::read_to_string(p.path().join("cgroup")).unwrap_or_default();
        if (String::from_utf8_lossy(&cmd).contains(id) || cgroup.contains(id)) && !zombie(&p.path()) {
            found.push(format!("process {}", p.file_name().to_string_lossy()));
        }
    }
    found
}

/// A process that has exited and waits for its parent (pid 1, for an orphaned monitor)
/// to reap it: it holds nothing any more.
fn zombie(proc_dir: &Path) -> bool {
    let stat = std::fs::read_to_string(proc_dir.join("stat")).unwrap_or_default();
    stat.rfind(')').is_some_and(|i| stat[i + 1..].trim_start().starts_with('Z'))
}

/// What a store holds that no container or image accounts for once every container is
/// removed: container directories, names, runtime states, files in tmp/, mounts under
/// the store, processes naming the store (monitors, helpers).
pub fn store_leftovers(h: &Hull) -> Vec<String> {
    let mut found = Vec::new();
    for sub in ["containers", "names", "runtime", "tmp", "networks/ports"] {
        for e in h.entries(sub) {
            // runtime/ holds caches too (seccomp:cache): only containers' states count.
            if sub != "runtime" || (e.len() == 64 && e.bytes().all(|b| b.is_ascii_hexdigit())) {
                found.push(format!("{sub}/{e}"));
            }
        }
    }
    // Addresses leased, veths on the store's network namespace.
    for e in h.entries("networks").iter().filter(|e| e.ends_with(".leases")) {
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(h.root.join("networks").join(e)).unwrap()).unwrap_or_default();
        for (ip, holder) in v["leases"].as_object().into_iter().flatten() {
            found.push(format!("lease {ip} in {e}: {holder}"));
        }
    }
    // A container's veth pair goes with its network namespace, which the kernel tears
    // down asynchronously once its last process is gone (one namespace at a time: a
    // backlog builds up when many containers end at once): give it time.
    let veths = || {
        let links = h.net.cmd("ip").args(["-o", "link"]).output().unwrap();
        String::from_utf8_lossy(&links.stdout).lines().filter(|l| l.contains(": vh")).map(str::to_owned).collect()
    };
    let mut left: Vec<String> = veths();
    for _ in 0..600 {
        if left.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        left = veths();
    }
    found.extend(left.into_iter().map(|l| format!("veth {l}")));
    let root = h.root.to_string_lossy().into_owned();
    for line in std::fs::read_to_string("/proc/self/mountinfo").unwrap().lines() {
        if line.contains(&root) {
            found.push(format!("mount {line}"));
        }
    }
    let me = std::process::id().to_string();
    let processes = || {
        let mut out = Vec::new();
        for p in std::fs::read_dir("/proc").unwrap().flatten() {
            let cmd = std::fs::read(p.path().join("cmdline")).unwrap_or_default();
            let pid = p.file_name().to_string_lossy().into_owned();
            if pid != me && String::from_utf8_lossy(&cmd).contains(&root) && !zombie(&p.path()) {
                out.push(format!("process {pid}: {}", String::from_utf8_lossy(&cmd).replace('\0', " ")));
            }
        }
        out
    };
    // A network's resolver leaves within seconds of its last container.
    let mut left = processes();
    for _ in 0..100 {
        if left.is_empty() || !left.iter().all(|p| p.contains(" __dns ")) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        left = processes();
    }
    found.extend(left);
    found
}

/// A test's store. When dropped, a failed test's too, every container in it is
/// force-removed before its directory goes: removing the directory of a live store
/// would leave the containers' processes, mounts and cgroups behind.
pub struct Store {
    pub h: Hull,
    pub t: TempDir,
}

impl std::ops::Deref for Store {
    type Target = Hull;
    fn deref(&self) -> &Hull {
        &self.h
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        let ids = String::from_utf8_lossy(&self.h.run(&["ps", "-aq", "--no-trunc"]).stdout).into_owned();
        for id in ids.lines() {
            let _ = self.h.run(&["rm", "-f", "-v", id]);
        }
    }
}

/// A store in a directory of its own with the busybox image imported as `busybox`.
pub fn busybox_store(name: &str) -> Store {
    require_root();
    let t = TempDir::new(name);
    let h = Hull::new(t.path());
    let r = rootfs(t.path());
    h.ok(&["import", r.to_str().unwrap(), "busybox"]);
    Store { h, t }
}

/// Waits for `child` to end, `within` at most (then kills it and fails: `what` still
/// waits), and returns its output.
pub fn wait_exit(mut child: std::process::Child, within: std::time::Duration, what: &str) -> Output {
    let until = std::time::Instant::now() + within;
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > until {
            let _ = child.kill();
            panic!("{what} still waits after {within:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.wait_with_output().unwrap()
}
