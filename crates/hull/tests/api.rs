//! The Docker Engine API (`hull system service`), driven by the real `docker` command
//! line: Debian's (/usr/bin/docker, 20.10) and, where the machine has one, the newer
//! /usr/local/bin/docker. Each test's server listens on a socket in its own directory
//! and runs in the store's network namespace (see `common::NetNs`).
//!
//! Covered so far: version negotiation, `run` in the foreground (output, stdout and
//! stderr apart, exit codes, piped `-i` input, 127 for a missing command), `--rm`,
//! `run -d`, `ps`, `logs`, `inspect`, `exec` (output, exit codes, `-i`, `-d`, `-t`,
//! `-u`), `stop`, `rm`, `images`, and a server killed with SIGKILL while a container
//! runs, started again, still managing it.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// A `hull system service` of store `h` on `sock`, killed when dropped.
struct Service(Child);

impl Service {
    fn start(h: &Hull, sock: &Path) -> Service {
        let child = h
            .cmd()
            .args(["system", "service", "--time", "0"])
            .arg(format!("unix://{}", sock.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("hull system service");
        let service = Service(child);
        for _ in 0..200 {
            if std::os::unix::net::UnixStream::connect(sock).is_ok() {
                return service;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        drop(service);
        panic!("hull system service does not listen on {}", sock.display());
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The docker command lines on this machine: Debian's one is required.
fn dockers() -> Vec<PathBuf> {
    let debian = PathBuf::from("/usr/bin/docker");
    assert!(debian.exists(), "/usr/bin/docker is needed: apt install docker.io");
    let mut out = vec![debian];
    let other = PathBuf::from("/usr/local/bin/docker");
    if other.exists() {
        out.push(other);
    }
    out
}

fn docker(h: &Hull, bin: &Path, sock: &Path, args: &[&str]) -> Output {
    docker_cmd(h, bin, sock).args(args).output().unwrap()
}

fn docker_cmd(h: &Hull, bin: &Path, sock: &Path) -> Command {
    let mut c = h.net.cmd(bin);
    c.env("DOCKER_HOST", format!("unix://{}", sock.display()))
        .env("DOCKER_CONFIG", sock.with_file_name("docker-config"))
        .env_remove("DOCKER_CONTEXT")
        .stdin(Stdio::null());
    c
}

fn ok(h: &Hull, bin: &Path, sock: &Path, args: &[&str]) -> String {
    let o = docker(h, bin, sock, args);
    assert!(o.status.success(), "{} {args:?}: {}", bin.display(), String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn the_docker_cli_runs_containers_through_the_api() {
    let s = busybox_store("api-cli");
    let sock = s.h.root.with_file_name("api.sock");
    let server = Service::start(&s.h, &sock);
    for bin in dockers() {
        let who = bin.display().to_string();
        let v = ok(&s.h, &bin, &sock, &["version", "--format", "{{.Server.Version}} {{.Server.APIVersion}}"]);
        assert_eq!(v.trim(), format!("{} 1.41", env!("CARGO_PKG_VERSION")), "{who}");
        // Foreground run: output, stdout and stderr apart, the exit status.
        assert_eq!(ok(&s.h, &bin, &sock, &["run", "--rm", "busybox", "echo", "hello"]), "hello\n", "{who}");
        let o = docker(&s.h, &bin, &sock, &["run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3"]);
        assert_eq!(o.status.code(), Some(3), "{who}: {o:?}");
        assert_eq!((o.stdout.as_slice(), o.stderr.as_slice()), (&b"out\n"[..], &b"err\n"[..]), "{who}");
        // Piped input with -i.
        let mut c = docker_cmd(&s.h, &bin, &sock);
        c.args(["run", "--rm", "-i", "busybox", "sh", "-c", "cat; echo done"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        let mut child = c.spawn().unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"piped in\n").unwrap();
        let o = wait_exit(child, std::time::Duration::from_secs(30), "docker run -i");
        assert_eq!(String::from_utf8_lossy(&o.stdout), "piped in\ndone\n", "{who}");
        // A command that does not exist: 127, as dockerd's.
        let o = docker(&s.h, &bin, &sock, &["run", "--rm", "busybox", "nosuchcmd"]);
        assert_eq!(o.status.code(), Some(127), "{who}: {}", String::from_utf8_lossy(&o.stderr));
        // Detached: ps, logs, inspect, stop, rm.
        let id =
            ok(&s.h, &bin, &sock, &["run", "-d", "--name", "bg", "busybox", "sh", "-c", "echo started; exec sleep 60"]);
        let id = id.trim();
        assert_eq!(id.len(), 64, "{who}: {id}");
        let ps = ok(&s.h, &bin, &sock, &["ps", "--format", "{{.ID}} {{.Names}} {{.Status}}"]);
        assert!(ps.starts_with(&format!("{} bg Up", &id[..12])), "{who}: {ps}");
        let mut logs = String::new();
        for _ in 0..100 {
            logs = ok(&s.h, &bin, &sock, &["logs", "bg"]);
            if !logs.is_empty() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert_eq!(logs, "started\n", "{who}");
        let state = ok(&s.h, &bin, &sock, &["inspect", "-f", "{{.State.Status}} {{.Config.Image}}", "bg"]);
        assert_eq!(state.trim(), "running busybox", "{who}");
        // exec: output, stderr apart, exit codes, piped input, detached, a TTY, a user.
        assert_eq!(ok(&s.h, &bin, &sock, &["exec", "bg", "echo", "hi"]), "hi\n", "{who}");
        let o = docker(&s.h, &bin, &sock, &["exec", "bg", "sh", "-c", "echo to err >&2; exit 5"]);
        assert_eq!((o.status.code(), o.stderr.as_slice()), (Some(5), &b"to err\n"[..]), "{who}: {o:?}");
        let mut c = docker_cmd(&s.h, &bin, &sock);
        c.args(["exec", "-i", "bg", "cat"]).stdin(Stdio::piped()).stdout(Stdio::piped());
        let mut child = c.spawn().unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"into exec\n").unwrap();
        let o = wait_exit(child, std::time::Duration::from_secs(30), "docker exec -i");
        assert_eq!(String::from_utf8_lossy(&o.stdout), "into exec\n", "{who}");
        ok(&s.h, &bin, &sock, &["exec", "-d", "bg", "busybox", "touch", "/tmp/made"]);
        let test = ["exec", "bg", "sh", "-c", "test -e /tmp/made"];
        let mut made = docker(&s.h, &bin, &sock, &test);
        for _ in 0..100 {
            if made.status.success() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
            made = docker(&s.h, &bin, &sock, &test);
        }
        assert!(made.status.success(), "{who}: exec -d ran nothing");
        assert_eq!(ok(&s.h, &bin, &sock, &["exec", "-t", "bg", "echo", "tty"]), "tty\r\n", "{who}");
        assert_eq!(ok(&s.h, &bin, &sock, &["exec", "-u", "1234", "bg", "id", "-u"]), "1234\n", "{who}");
        let o = docker(&s.h, &bin, &sock, &["exec", "bg", "nosuchcmd"]);
        assert_eq!(o.status.code(), Some(127), "{who}: {o:?}");
        ok(&s.h, &bin, &sock, &["stop", "-t", "1", "bg"]);
        let state = ok(&s.h, &bin, &sock, &["inspect", "-f", "{{.State.Status}}", "bg"]);
        assert_eq!(state.trim(), "exited", "{who}");
        ok(&s.h, &bin, &sock, &["rm", "bg"]);
        let o = docker(&s.h, &bin, &sock, &["inspect", "bg"]);
        assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("No such"), "{who}");
        let images = ok(&s.h, &bin, &sock, &["images", "--format", "{{.Repository}}:{{.Tag}}"]);
        assert_eq!(images, "busybox:latest\n", "{who}");
        assert_eq!(ok(&s.h, &bin, &sock, &["ps", "-aq"]), "", "{who}: --rm and rm left nothing");
    }
    drop(server);
    let left = store_leftovers(&s.h);
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn containers_outlive_a_killed_server_and_a_new_one_manages_them() {
    let s = busybox_store("api-restart");
    let sock = s.h.root.with_file_name("api.sock");
    let bin = dockers().remove(0);
    let server = Service::start(&s.h, &sock);
    ok(&s.h, &bin, &sock, &["run", "-d", "--name", "keep", "busybox", "sleep", "60"]);
    drop(server); // SIGKILL
    assert!(s.h.ok(&["ps"]).contains("keep"), "the container runs on without the server");
    let again = Service::start(&s.h, &sock);
    let ps = ok(&s.h, &bin, &sock, &["ps", "--format", "{{.Names}}"]);
    assert_eq!(ps, "keep\n");
    ok(&s.h, &bin, &sock, &["rm", "-f", "keep"]);
    assert_eq!(ok(&s.h, &bin, &sock, &["ps", "-aq"]), "");
    drop(again);
    let left = store_leftovers(&s.h);
    assert!(left.is_empty(), "{left:?}");
}
