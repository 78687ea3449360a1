//! Rootless: an ordinary user (a uid with no passwd entry, as the kernel allows) runs
//! `spec --rootless` and `run`, with its state under $XDG_RUNTIME_DIR, its own id mapped
//! to root in a new user namespace, devices bound instead of made, and no cgroup (none
//! is delegated to it here).

mod common;
use common::*;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

const UID: u32 = 64242;

fn chown_r(p: &std::path::Path) {
    let st = Command::new("chown").args(["-R", &format!("{UID}:{UID}")]).arg(p).status().unwrap();
    assert!(st.success());
}

#[test]
fn an_ordinary_user_runs_a_container() {
    let rt = Rt::new("rl-run");
    // A copy of the runtime the user can reach wherever the checkout lives.
    let bin = rt.tmp.0.join("hull-runtime");
    std::fs::copy(BIN, &bin).unwrap();
    let b = rt.bundle("b");
    std::fs::remove_file(b.dir.join("config.json")).unwrap();
    let xdg = rt.tmp.0.join("xdg");
    std::fs::create_dir_all(&xdg).unwrap();
    chown_r(&rt.tmp.0);
    let user = |args: &[&str]| {
        let mut c = Command::new(&bin);
        c.args(args)
            .current_dir(&b.dir)
            .env_clear()
            .env("XDG_RUNTIME_DIR", &xdg)
            .env("PATH", "/usr/bin:/bin")
            .uid(UID)
            .gid(UID)
            .stdin(Stdio::null());
        c.output().unwrap()
    };
    let o = user(&["spec", "--rootless"]);
    assert!(o.status.success(), "spec: {}", String::from_utf8_lossy(&o.stderr));
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.dir.join("config.json")).unwrap()).unwrap();
    config["process"]["terminal"] = false.into();
    config["process"]["args"] =
        serde_json::json!(["sh", "-c", "id -u; cat /proc/self/uid_map; hostname; test -c /dev/null && echo dev-ok"]);
    std::fs::write(b.dir.join("config.json"), serde_json::to_vec(&config).unwrap()).unwrap();
    chown_r(&b.dir);

    let o = user(&["run", "rl-c"]);
    let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success(), "run as uid {UID}: {out} {err}");
    let words: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(words, ["0", "0", &UID.to_string(), "1", "hull", "dev-ok"], "{out}");
    assert!(err.contains("not delegated"), "the missing cgroup is noticed: {err}");
    // The state went under $XDG_RUNTIME_DIR and is gone after run.
    assert!(xdg.join("hull-runtime").is_dir());
    assert_eq!(std::fs::read_dir(xdg.join("hull-runtime")).unwrap().count(), 0);
    assert!(cgroup_dirs_left("/hull/rl-c").is_empty());
}
