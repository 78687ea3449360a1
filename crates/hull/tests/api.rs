//! The Docker Engine API (`hull system service`), driven by the real `docker` command
//! line: Debian's (/usr/bin/docker, 20.10) and, where the machine has one, the newer
//! /usr/local/bin/docker. Each test's server listens on a socket in its own directory
//! and runs in the store's network namespace (see `common::NetNs`).
//!
//! Covered so far: version negotiation, `run` in the foreground (output, stdout and
//! stderr apart, exit codes, piped `-i` input, 127 for a missing command), `--rm`,
//! `run -d`, `ps`, `logs`, `inspect`, `exec` (output, exit codes, `-i`, `-d`, `-t`,
//! `-u`), `cp` both ways, `diff`, `stats`, `update`, `export`, `commit`, `system df`,
//! `stop`, `rm`, `images`; push, pull, `run` of an image that is not here,
//! save and load against a registry in the test's namespace; docker-compose 1.29 (Debian's) bringing a project
//! up and down (service names, a published port, a named volume, `exec`, `logs`,
//! `down -v` leaving nothing); a docker-py (python3-docker) program (run, streamed
//! logs, label filters, exec, kill and wait, events); and a server killed with
//! SIGKILL while a container runs, started again, still managing it.

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
        // cp both ways (GET, HEAD and PUT of the archive).
        let here = s.h.root.with_file_name("cp");
        let _ = std::fs::remove_dir_all(&here);
        std::fs::create_dir_all(&here).unwrap();
        ok(&s.h, &bin, &sock, &["cp", "bg:/etc/hostname", here.join("hostname").to_str().unwrap()]);
        assert_eq!(std::fs::read_to_string(here.join("hostname")).unwrap(), format!("{}\n", &id[..12]), "{who}");
        std::fs::write(here.join("note"), "from the host\n").unwrap();
        ok(&s.h, &bin, &sock, &["cp", here.join("note").to_str().unwrap(), "bg:/tmp/"]);
        assert_eq!(ok(&s.h, &bin, &sock, &["exec", "bg", "cat", "/tmp/note"]), "from the host\n", "{who}");
        let o = docker(&s.h, &bin, &sock, &["cp", "bg:/nonexistent", here.to_str().unwrap()]);
        assert!(!o.status.success(), "{who}");
        // diff, stats, update, export, commit, system df.
        let diff = ok(&s.h, &bin, &sock, &["diff", "bg"]);
        assert!(diff.contains("A /tmp/note"), "{who}: {diff}");
        let stats = ok(&s.h, &bin, &sock, &["stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}", "bg"]);
        assert!(stats.starts_with("bg "), "{who}: {stats}");
        ok(&s.h, &bin, &sock, &["update", "--memory", "64m", "--memory-swap", "128m", "bg"]);
        let mem = ok(&s.h, &bin, &sock, &["inspect", "-f", "{{.HostConfig.Memory}}", "bg"]);
        assert_eq!(mem.trim(), "67108864", "{who}");
        let tar = here.join("bg.tar");
        ok(&s.h, &bin, &sock, &["export", "-o", tar.to_str().unwrap(), "bg"]);
        assert!(std::fs::metadata(&tar).unwrap().len() > 1024, "{who}: export");
        let snap = ok(&s.h, &bin, &sock, &["commit", "bg", "snap:1"]);
        assert!(snap.trim().starts_with("sha256:"), "{who}: {snap}");
        let history = ok(&s.h, &bin, &sock, &["history", "--no-trunc", "--format", "{{.ID}} {{.CreatedBy}}", "snap:1"]);
        assert!(history.starts_with("sha256:"), "{who}: {history}");
        ok(&s.h, &bin, &sock, &["rmi", "snap:1"]);
        let df = ok(&s.h, &bin, &sock, &["system", "df"]);
        assert!(df.contains("Images") && df.contains("Containers"), "{who}: {df}");
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

/// The compose file of the project the compose test brings up: a web server on a named
/// volume, published on 8080, and a client that writes its page and reaches it by the
/// service's name.
const COMPOSE: &str = r#"version: "3"
services:
  web:
    image: busybox
    command: ["busybox", "httpd", "-f", "-p", "80", "-h", "/www"]
    volumes:
      - data:/www
    ports:
      - "8080:80"
  client:
    image: busybox
    command: ["sh", "-c", "echo hello from compose > /www/index.html; echo client up; exec sleep 60"]
    volumes:
      - data:/www
volumes:
  data:
"#;

#[test]
fn docker_compose_brings_a_project_up_and_down() {
    let compose = Path::new("/usr/bin/docker-compose");
    assert!(compose.exists(), "/usr/bin/docker-compose is needed: apt install docker-compose");
    let s = busybox_store("api-compose");
    let sock = s.h.root.with_file_name("api.sock");
    let project = s.h.root.with_file_name("project");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(project.join("docker-compose.yml"), COMPOSE).unwrap();
    let server = Service::start(&s.h, &sock);
    let run = |args: &[&str]| {
        let o =
            s.h.net
                .cmd(compose)
                .args(["-p", "proj"])
                .args(args)
                .current_dir(&project)
                .env("DOCKER_HOST", format!("unix://{}", sock.display()))
                .stdin(Stdio::null())
                .output()
                .unwrap();
        assert!(o.status.success(), "docker-compose {args:?}: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    run(&["up", "-d"]);
    let ps = run(&["ps"]);
    assert!(ps.contains("proj_web_1") && ps.contains("0.0.0.0:8080->80/tcp") && ps.contains("proj_client_1"), "{ps}");
    // The client wrote the page on the shared volume; it reaches web by its name.
    let mut page = String::new();
    for _ in 0..100 {
        let o =
            s.h.net
                .cmd(compose)
                .args(["-p", "proj", "exec", "-T", "client", "busybox", "wget", "-q", "-O-", "http://web/"])
                .current_dir(&project)
                .env("DOCKER_HOST", format!("unix://{}", sock.display()))
                .stdin(Stdio::null())
                .output()
                .unwrap();
        page = String::from_utf8_lossy(&o.stdout).into_owned();
        if o.status.success() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(page, "hello from compose\n");
    assert!(run(&["logs", "client"]).contains("client up"));
    // The published port, from the host.
    let o = s.h.net.cmd(busybox()).args(["wget", "-q", "-O-", "http://127.0.0.1:8080/"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), "hello from compose\n");
    run(&["down", "-v"]);
    assert_eq!(s.h.ok(&["ps", "-aq"]), "");
    assert_eq!(s.h.ok(&["network", "ls", "-q"]).lines().count(), 1, "only the default network is left");
    assert_eq!(s.h.ok(&["volume", "ls", "-q"]), "");
    drop(server);
    let left = store_leftovers(&s.h);
    assert!(left.is_empty(), "{left:?}");
}

/// What a docker-py (Debian's python3-docker) program sees: run, logs streamed,
/// label filters, exec, kill and wait, events.
const SDK: &str = r#"
import sys, docker
c = docker.DockerClient(base_url=sys.argv[1])
assert c.ping()
out = c.containers.run("busybox", ["sh", "-c", "echo hi; echo err >&2"], remove=True, stderr=True)
assert out == b"hi\nerr\n", out
ctr = c.containers.run("busybox", ["sh", "-c", "for i in 1 2 3; do echo line $i; done; exec sleep 60"],
                       detach=True, labels={"app": "sdk"}, name="sdk1")
got = []
for chunk in ctr.logs(stream=True, follow=True):
    got.append(chunk)
    if b"".join(got).count(b"\n") >= 3:
        break
assert b"".join(got) == b"line 1\nline 2\nline 3\n", got
assert [x.name for x in c.containers.list(filters={"label": "app=sdk"})] == ["sdk1"]
assert c.containers.list(filters={"label": "app=other"}) == []
code, output = ctr.exec_run(["sh", "-c", "echo x; exit 4"])
assert (code, output) == (4, b"x\n"), (code, output)
ctr.kill()
assert ctr.wait()["StatusCode"] == 137
ctr.reload()
assert ctr.status == "exited", ctr.status
ctr.remove()
since = 0
actions = [e["Action"] for e in c.events(since=since, until=int(__import__("time").time()) + 1, decode=True,
                                           filters={"container": "sdk1"})]
assert "create" in actions and "die" in actions and "destroy" in actions, actions
print("sdk ok")
"#;

#[test]
fn the_python_sdk_drives_hull() {
    let python = Path::new("/usr/bin/python3");
    let ok_import = Command::new(python).args(["-c", "import docker"]).output().is_ok_and(|o| o.status.success());
    assert!(ok_import, "/usr/bin/python3 with the docker module is needed: apt install python3-docker");
    let s = busybox_store("api-sdk");
    let sock = s.h.root.with_file_name("api.sock");
    let server = Service::start(&s.h, &sock);
    let o =
        s.h.net
            .cmd(python)
            .args(["-c", SDK, &format!("unix://{}", sock.display())])
            .stdin(Stdio::null())
            .output()
            .unwrap();
    assert!(o.status.success(), "{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "sdk ok\n");
    drop(server);
    let left = store_leftovers(&s.h);
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn images_are_pushed_pulled_saved_and_loaded_through_the_api() {
    let s = busybox_store("api-images");
    let sock = s.h.root.with_file_name("api.sock");
    let reg = Registry::start_in(&s.h.root.with_file_name("reg"), None, &s.h.net);
    let server = Service::start(&s.h, &sock);
    let bin = dockers().remove(0);
    let name = format!("{}/hull/bb:1", reg.host());
    ok(&s.h, &bin, &sock, &["tag", "busybox", &name]);
    let pushed = ok(&s.h, &bin, &sock, &["push", &name]);
    assert!(pushed.contains("1: digest: sha256:"), "{pushed}");
    // An image that is not here: `run` pulls it (POST /images/create) and runs it.
    let other = format!("{}/hull/other:2", reg.host());
    ok(&s.h, &bin, &sock, &["tag", "busybox", &other]);
    ok(&s.h, &bin, &sock, &["push", &other]);
    let gone = ok(&s.h, &bin, &sock, &["rmi", &other]);
    assert!(gone.contains("Untagged"), "{gone}");
    let o = docker(&s.h, &bin, &sock, &["run", "--rm", &other, "echo", "pulled and ran"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "pulled and ran\n");
    let pulled = ok(&s.h, &bin, &sock, &["pull", &name]);
    assert!(pulled.contains("Status: Image is up to date"), "{pulled}");
    // Saved and loaded back.
    let archive = s.h.root.with_file_name("bb.tar");
    ok(&s.h, &bin, &sock, &["save", "-o", archive.to_str().unwrap(), &name]);
    ok(&s.h, &bin, &sock, &["rmi", &name, &other]);
    let loaded = ok(&s.h, &bin, &sock, &["load", "-i", archive.to_str().unwrap()]);
    assert!(loaded.contains(&format!("Loaded image: {name}")), "{loaded}");
    let images = ok(&s.h, &bin, &sock, &["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(images.contains(&name) && images.contains("busybox:latest"), "{images}");
    drop(server);
    let left = store_leftovers(&s.h);
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn login_and_the_clients_credentials_reach_a_registry_that_asks_for_them() {
    let s = busybox_store("api-auth");
    let sock = s.h.root.with_file_name("api.sock");
    let reg = Registry::start_in(&s.h.root.with_file_name("reg"), Some(("hulluser", "s3cret")), &s.h.net);
    let server = Service::start(&s.h, &sock);
    let bin = dockers().remove(0);
    let name = format!("{}/hull/private:1", reg.host());
    ok(&s.h, &bin, &sock, &["tag", "busybox", &name]);
    // Without credentials the registry refuses.
    let o = docker(&s.h, &bin, &sock, &["push", &name]);
    let said = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(!o.status.success() || said.contains("unauthorized") || said.contains("401"), "{said}");
    // A wrong password is refused by POST /auth; the right one logs in (the client
    // keeps it) and goes with each push and pull as X-Registry-Auth.
    let login = |pw: &str| {
        let mut c = docker_cmd(&s.h, &bin, &sock);
        c.args(["login", "-u", "hulluser", "--password-stdin", &reg.host()]).stdin(Stdio::piped());
        let mut child = c.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), pw.as_bytes()).unwrap();
        wait_exit(child, std::time::Duration::from_secs(30), "docker login")
    };
    assert!(!login("wrong").status.success());
    let o = login("s3cret");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let pushed = ok(&s.h, &bin, &sock, &["push", &name]);
    assert!(pushed.contains("1: digest: sha256:"), "{pushed}");
    ok(&s.h, &bin, &sock, &["rmi", &name]);
    let pulled = ok(&s.h, &bin, &sock, &["pull", &name]);
    assert!(pulled.contains("Status:"), "{pulled}");
    drop(server);
    let left = store_leftovers(&s.h);
    assert!(left.is_empty(), "{left:?}");
}
