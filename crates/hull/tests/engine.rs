//! hull-engine through its library API, as the Docker Engine API server and `hull
//! build` will drive it (no command line): create/start/wait/logs/remove, error kinds a
//! caller branches on, the event log, and concurrent operations on one container. The
//! `hull` binary is only the monitor the engine spawns, and makes the test image.

mod common;

use common::*;
use hull_engine::create::{body, CreateOptions};
use hull_engine::error::Kind;
use hull_engine::events::Filter;
use hull_engine::lifecycle::remove::RemoveOptions;
use hull_engine::lifecycle::stop::StopOptions;
use hull_engine::Engine;
use std::path::Path;

struct Setup {
    t: TempDir,
    engine: Engine,
}

impl Drop for Setup {
    fn drop(&mut self) {
        // A failed test's containers go before the store does.
        for id in self.engine.ids().unwrap_or_default() {
            let _ = self.engine.remove(&id, RemoveOptions { force: true, volumes: true });
        }
    }
}

fn setup(name: &str) -> Setup {
    require_root();
    let t = TempDir::new(name);
    let h = Hull::new(t.path());
    let r = rootfs(t.path());
    h.ok(&["import", r.to_str().unwrap(), "busybox"]);
    // The monitors this thread spawns share the store's network namespace.
    h.net.enter();
    let engine = Engine::open(&h.root).unwrap().with_exe(Path::new(env!("CARGO_BIN_EXE_hull")));
    Setup { t, engine }
}

fn create(cmd: &[&str]) -> CreateOptions {
    let mut o = CreateOptions::default();
    o.body.config.image = "busybox".into();
    o.body.config.cmd = Some(cmd.iter().map(|s| s.to_string()).collect());
    o
}

fn kind<T: std::fmt::Debug>(r: hull_engine::Result<T>) -> Kind {
    r.expect_err("an error").kind()
}

#[test]
fn create_start_wait_logs_and_remove() {
    let s = setup("engine-lifecycle");
    let e = &s.engine;
    let since = hull_engine::events::now_nanos();
    let mut o = create(&["sh", "-c", "echo out; echo err >&2; exit 3"]);
    o.name = Some("life".into());
    o.body.config.labels.insert("tier".into(), "test".into());
    let c = e.create(&o).unwrap();
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    assert_eq!(e.resolve("life").unwrap(), c.id);
    assert_eq!(e.container(&c.id).unwrap().status, hull_engine::record::ContainerStatus::Created);
    e.start(&c.id).unwrap();
    assert_eq!(e.wait(&c.id).unwrap(), 3);
    let lines: Vec<(String, String)> = e.logs(&c.id, &Default::default()).unwrap().map(|l| (l.stream, l.log)).collect();
    assert!(lines.contains(&("stdout".into(), "out\n".into())), "{lines:?}");
    assert!(lines.contains(&("stderr".into(), "err\n".into())), "{lines:?}");
    let tail: Vec<_> =
        e.logs(&c.id, &hull_engine::logs::LogsOptions { tail: Some(1), ..Default::default() }).unwrap().collect();
    assert_eq!(tail.len(), 1);
    // The monitor records the exit before it goes: then the container starts again.
    assert!(e.wait_finished(&c.id, std::time::Duration::from_secs(10)));
    e.remove(&c.id, RemoveOptions::default()).unwrap();
    assert_eq!(kind(e.resolve("life")), Kind::NotFound);
    assert!(
        s.t.path().join("store/containers").read_dir().unwrap().next().is_none(),
        "the container's directory is gone"
    );
    // Every step in the event log, with Docker's attributes.
    let until = Some(hull_engine::events::now_nanos());
    let events: Vec<_> = e.events().read(Some(since), until, false, Filter::default()).collect();
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["create", "start", "die", "destroy"], "{events:?}");
    assert!(events.iter().all(|ev| ev.actor.id == c.id && ev.actor.attributes["name"] == "life"));
    assert_eq!(events[2].actor.attributes["exitCode"], "3");
    assert_eq!(events[0].actor.attributes["tier"], "test");
    assert_eq!(events[0].actor.attributes["image"], "busybox");
}

#[test]
fn error_kinds_and_nothing_left_by_refused_creates() {
    let s = setup("engine-errors");
    let e = &s.engine;
    assert_eq!(kind(e.resolve("nope")), Kind::NotFound);
    let mut o = create(&["true"]);
    o.body.config.image = "no-such-image".into();
    assert_eq!(kind(e.create(&o)), Kind::NotFound);
    let mut o = create(&["true"]);
    o.name = Some("a/b".into());
    o.body.config.image = "no-such-image".into();
    assert_eq!(kind(e.create(&o)), Kind::InvalidArgument, "the name is checked before the image");
    for bad in [
        |o: &mut CreateOptions| o.body.host_config.resources.memory = 1,
        |o: &mut CreateOptions| o.body.host_config.binds = vec!["/tmp:/proc/sys/kernel".into()],
        |o: &mut CreateOptions| {
            o.body.config.volumes.insert("/proc/sys".into(), body::Empty {});
        },
        |o: &mut CreateOptions| o.body.config.hostname = "h".repeat(100_000),
        |o: &mut CreateOptions| o.body.host_config.resources.nano_cpus = 1 << 50,
        |o: &mut CreateOptions| o.body.host_config.restart_policy.name = "sometimes".into(),
        // (uid_t)-1 is "no change" to setresuid: the process would stay root.
        |o: &mut CreateOptions| o.body.config.user = "4294967295:4294967295".into(),
        |o: &mut CreateOptions| {
            o.body.host_config.sysctls.insert("vm.drop_caches".into(), "3".into());
        },
        |o: &mut CreateOptions| {
            o.body.host_config.auto_remove = true;
            o.body.host_config.restart_policy.name = "always".into();
        },
    ] {
        let mut o = create(&["true"]);
        o.name = Some("refused".into());
        bad(&mut o);
        let err = e.create(&o).expect_err("refused");
        assert_eq!(err.kind(), Kind::InvalidArgument, "{err}");
        assert!(err.to_string().len() < 200, "one short line: {err}");
    }
    assert!(e.ids().unwrap().is_empty(), "nothing made");
    assert!(!s.t.path().join("store/names/refused").exists(), "the name is free");
    let mut o = create(&["sh", "-c", "exec sleep 100"]);
    o.name = Some("sleeper".into());
    let id = e.create(&o).unwrap().id;
    assert_eq!(kind(e.kill(&id, "KILL")), Kind::NotRunning);
    assert_eq!(kind(e.unpause(&id)), Kind::Conflict);
    e.start(&id).unwrap();
    assert_eq!(kind(e.start(&id)), Kind::NotModified);
    assert_eq!(kind(e.remove(&id, RemoveOptions::default())), Kind::Conflict);
    assert_eq!(kind(e.create(&o)), Kind::Conflict, "the name is taken");
    e.pause(&id).unwrap();
    assert_eq!(kind(e.pause(&id)), Kind::Conflict);
    e.unpause(&id).unwrap();
    let p = e
        .exec_process(&id, &hull_engine::lifecycle::exec::ExecConfig { cmd: vec!["id".into()], ..Default::default() })
        .unwrap();
    assert_eq!(p.args().as_deref(), Some(&["id".to_string()][..]));
    let o = create(&["/no/such/program"]);
    let bad = e.create(&o).unwrap().id;
    assert_eq!(kind(e.start(&bad)), Kind::CannotExecute(127));
    e.stop(&id, &StopOptions { timeout: Some(1), signal: None }).unwrap();
    e.remove(&id, RemoveOptions { force: true, volumes: true }).unwrap();
}

#[test]
fn concurrent_operations_on_one_container() {
    let s = setup("engine-concurrent");
    let e = &s.engine;
    for round in 0..3 {
        let mut o = create(&["sh", "-c", "exec sleep 100"]);
        o.name = Some(format!("busy{round}"));
        let id = e.create(&o).unwrap().id;
        // Five starts at once: one starts it, the others find it running.
        let results: Vec<hull_engine::Result<()>> = std::thread::scope(|sc| {
            let hs: Vec<_> = (0..5).map(|_| sc.spawn(|| e.start(&id))).collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let started = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(started, 1, "round {round}: {results:?}");
        assert!(results.iter().all(|r| r.as_ref().is_ok() || r.as_ref().unwrap_err().kind() == Kind::NotModified));
        let c = e.container(&id).unwrap();
        assert_eq!(c.status, hull_engine::record::ContainerStatus::Running, "round {round}");
        assert!(c.run.pid > 0 && c.monitored);
        // stop, kill and rm -f at once: the container is gone at the end, whoever won.
        std::thread::scope(|sc| {
            sc.spawn(|| e.stop(&id, &StopOptions { timeout: Some(1), signal: None }));
            sc.spawn(|| e.kill(&id, "KILL"));
            sc.spawn(|| e.remove(&id, RemoveOptions { force: true, volumes: true }));
        });
        let _ = e.remove(&id, RemoveOptions { force: true, volumes: true });
        assert_eq!(kind(e.container(&id)), Kind::NotFound, "round {round}");
        let pid = c.run.pid;
        assert!(!Path::new(&format!("/proc/{pid}")).exists(), "round {round}: the init is gone");
    }
}

#[test]
fn prune_all_removes_what_killed_pulls_left() {
    let s = setup("engine-partials");
    let tmp = s.t.path().join("store/tmp");
    let partial = tmp.join("sha256:0123.partial");
    std::fs::write(&partial, b"half a layer").unwrap();
    let dead = tmp.join("blob-999999999-x");
    std::fs::write(&dead, b"a dead writer's").unwrap();
    s.engine.prune_images(false).unwrap();
    assert!(partial.exists(), "a pull may resume it");
    assert!(!dead.exists(), "its writer is gone");
    s.engine.prune_images(true).unwrap();
    assert!(!partial.exists(), "prune -a takes it");
}
