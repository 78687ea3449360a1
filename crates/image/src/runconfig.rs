//! From an image's config to a container's process, as Docker maps it: Entrypoint and
//! Cmd (with the user's overrides), Env (PATH and HOME filled in), WorkingDir, User
//! (names resolved through the image's own /etc/passwd and /etc/group, read inside the
//! root filesystem so a symlinked /etc/passwd cannot point at the host's), and what the
//! engine needs besides (ExposedPorts, Volumes, StopSignal, Labels); then into an OCI
//! runtime config.

use crate::error::{Error, Result};
use oci_spec::image::ImageConfiguration;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What the user asked for on top of the image (`docker run` flags).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// `--entrypoint` (an empty string clears the image's).
    pub entrypoint: Option<Vec<String>>,
    /// The command after the image name.
    pub cmd: Option<Vec<String>>,
    /// `-e` (KEY=VALUE, or KEY alone to drop nothing and add nothing unless set in the
    /// caller's environment: the caller resolves that).
    pub env: Vec<String>,
    pub user: Option<String>,
    pub workdir: Option<String>,
}

/// The container's process and what the engine needs from the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunConfig {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub stop_signal: Option<String>,
    pub exposed_ports: Vec<String>,
    pub volumes: Vec<String>,
    pub labels: BTreeMap<String, String>,
}

fn bad(why: String) -> Error {
    Error::Format { what: "the container's configuration".into(), why }
}

/// Resolves the image config with the overrides against the root filesystem `rootfs`.
pub fn resolve(config: &ImageConfiguration, rootfs: &Path, o: &Overrides) -> Result<RunConfig> {
    let c = config.config().clone().unwrap_or_default();
    let entrypoint: Vec<String> = match &o.entrypoint {
        Some(e) => e.iter().filter(|s| !s.is_empty()).cloned().collect(),
        None => c.entrypoint().clone().unwrap_or_default(),
    };
    // A new entrypoint drops the image's Cmd, as Docker does.
    let cmd: Vec<String> = match (&o.cmd, &o.entrypoint) {
        (Some(cmd), _) if !cmd.is_empty() => cmd.clone(),
        (_, Some(_)) => vec![],
        _ => c.cmd().clone().unwrap_or_default(),
    };
    let args: Vec<String> = entrypoint.into_iter().chain(cmd).collect();
    if args.is_empty() {
        return Err(bad("no command specified".into()));
    }
    let mut env: Vec<String> = c.env().clone().unwrap_or_default();
    for e in &o.env {
        let key = e.split('=').next().unwrap_or(e);
        env.retain(|x| x.split('=').next() != Some(key));
        env.push(e.clone());
    }
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.insert(0, DEFAULT_PATH.into());
    }
    let user = o.user.clone().or_else(|| c.user().clone()).unwrap_or_default();
    let (uid, gid, additional_gids, home) = resolve_user(rootfs, &user)?;
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", home.unwrap_or_else(|| "/".into())));
    }
    let cwd =
        o.workdir.clone().or_else(|| c.working_dir().clone()).filter(|w| !w.is_empty()).unwrap_or_else(|| "/".into());
    if !cwd.starts_with('/') {
        return Err(bad(format!("the working directory {cwd:?} is not absolute")));
    }
    let mut exposed_ports = c.exposed_ports().clone().unwrap_or_default();
    exposed_ports.sort();
    let mut volumes = c.volumes().clone().unwrap_or_default();
    volumes.sort();
    Ok(RunConfig {
        args,
        env,
        cwd,
        uid,
        gid,
        additional_gids,
        stop_signal: c.stop_signal().clone(),
        exposed_ports,
        volumes,
        labels: c.labels().clone().unwrap_or_default().into_iter().collect(),
    })
}

/// Reads a file of the root filesystem, resolved inside it (openat2 RESOLVE_IN_ROOT):
/// an image whose /etc/passwd is a symlink to /etc/shadow reads its own, not the host's.
fn read_in_root(rootfs: &Path, path: &str) -> Result<Option<String>> {
    use nix::fcntl::{openat2, OFlag, OpenHow, ResolveFlag};
    let root =
        nix::fcntl::open(rootfs, OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, nix::sys::stat::Mode::empty())
            .map_err(crate::error::sys(format!("open {}", rootfs.display())))?;
    let how = OpenHow::new()
        .flags(OFlag::O_RDONLY | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    let fd = match openat2(&root, path.trim_start_matches('/'), how) {
        Ok(fd) => fd,
        Err(nix::errno::Errno::ENOENT) | Err(nix::errno::Errno::ENOTDIR) => return Ok(None),
        Err(e) => return Err(crate::error::sys(format!("open {path} in {}", rootfs.display()))(e)),
    };
    let mut s = String::new();
    std::fs::File::from(fd)
        .take(16 << 20)
        .read_to_string(&mut s)
        .map_err(crate::error::io(format!("read {path} in {}", rootfs.display())))?;
    Ok(Some(s))
}

/// `user[:group]` to (uid, gid, supplementary gids, home), as runc's libcontainer/user
/// and Docker resolve it.
pub fn resolve_user(rootfs: &Path, spec: &str) -> Result<(u32, u32, Vec<u32>, Option<String>)> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let passwd = read_in_root(rootfs, "/etc/passwd")?.unwrap_or_default();
    let groups = read_in_root(rootfs, "/etc/group")?.unwrap_or_default();
    let entries: Vec<Vec<&str>> = passwd
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split(':').collect())
        .filter(|f: &Vec<&str>| f.len() >= 7)
        .collect();
    let user = if user.is_empty() { "0" } else { user };
    let found = entries.iter().find(|f| f[0] == user || (user.parse::<u32>().is_ok() && f[2] == user));
    let (uid, mut gid, name, home) = match (found, user.parse::<u32>()) {
        (Some(f), _) => (
            f[2].parse::<u32>().map_err(|_| bad(format!("bad uid in /etc/passwd for {}", f[0])))?,
            f[3].parse::<u32>().map_err(|_| bad(format!("bad gid in /etc/passwd for {}", f[0])))?,
            Some(f[0].to_string()),
            Some(f[5].to_string()),
        ),
        (None, Ok(n)) => (n, 0, None, None),
        (None, Err(_)) => return Err(bad(format!("unable to find user {user}: no matching entries in passwd file"))),
    };
    let gentries: Vec<Vec<&str>> = groups
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split(':').collect())
        .filter(|f: &Vec<&str>| f.len() >= 4)
        .collect();
    if let Some(g) = group.filter(|g| !g.is_empty()) {
        gid = match gentries.iter().find(|f| f[0] == g || f[2] == g) {
            Some(f) => f[2].parse().map_err(|_| bad(format!("bad gid in /etc/group for {}", f[0])))?,
            None => {
                g.parse().map_err(|_| bad(format!("unable to find group {g}: no matching entries in group file")))?
            }
        };
    }
    let mut additional: Vec<u32> = match (&name, group) {
        // An explicit group replaces the supplementary ones, as Docker.
        (Some(n), None) => {
            gentries.iter().filter(|f| f[3].split(',').any(|m| m == n)).filter_map(|f| f[2].parse().ok()).collect()
        }
        _ => vec![],
    };
    additional.retain(|g| *g != gid);
    additional.dedup();
    Ok((uid, gid, additional, home))
}

/// A group by name or number, through the image's own /etc/group (`--group-add`).
pub fn resolve_group(rootfs: &Path, group: &str) -> Result<u32> {
    let groups = read_in_root(rootfs, "/etc/group")?.unwrap_or_default();
    let found = groups
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() >= 3 && f[0] == group)
        .and_then(|f| f[2].parse().ok());
    match found {
        Some(g) => Ok(g),
        None => {
            group.parse().map_err(|_| bad(format!("unable to find group {group}: no matching entries in group file")))
        }
    }
}

/// A runtime config for `rc` with root `rootfs_path`, from oci-spec's defaults (runc's
/// `spec` template: the default capabilities, mounts and masked paths).
pub fn to_spec(rc: &RunConfig, rootfs_path: &str, hostname: Option<&str>) -> Result<oci_spec::runtime::Spec> {
    use oci_spec::runtime::{ProcessBuilder, RootBuilder, UserBuilder};
    let mut spec = oci_spec::runtime::Spec::default();
    let base = spec.process().clone().unwrap_or_default();
    let user = UserBuilder::default()
        .uid(rc.uid)
        .gid(rc.gid)
        .additional_gids(rc.additional_gids.clone())
        .build()
        .map_err(|e| bad(e.to_string()))?;
    let process = ProcessBuilder::default()
        .terminal(false)
        .user(user)
        .args(rc.args.clone())
        .env(rc.env.clone())
        .cwd(rc.cwd.clone())
        .capabilities(base.capabilities().clone().unwrap_or_default())
        .rlimits(base.rlimits().clone().unwrap_or_default())
        .no_new_privileges(false)
        .build()
        .map_err(|e| bad(e.to_string()))?;
    spec.set_process(Some(process));
    spec.set_root(Some(
        RootBuilder::default().path(rootfs_path).readonly(false).build().map_err(|e| bad(e.to_string()))?,
    ));
    spec.set_hostname(hostname.map(str::to_string));
    if !rc.labels.is_empty() {
        spec.set_annotations(Some(rc.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect()));
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rootfs(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("hull-runconfig-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("etc")).unwrap();
        std::fs::write(d.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n")
            .unwrap();
        std::fs::write(d.join("etc/group"), "root:x:0:\napp:x:1000:\nstaff:x:50:app,other\nwheel:x:10:app\n").unwrap();
        d
    }

    fn config(json: &str) -> ImageConfiguration {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn maps_an_image_config_as_docker() {
        let r = rootfs("maps");
        let c = config(
            r#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},
            "config":{"Entrypoint":["/ep"],"Cmd":["a","b"],"Env":["A=1","PATH=/bin"],"WorkingDir":"/w","User":"app",
            "ExposedPorts":{"80/tcp":{}},"Volumes":{"/data":{}},"StopSignal":"SIGQUIT","Labels":{"k":"v"}}}"#,
        );
        let rc = resolve(&c, &r, &Overrides::default()).unwrap();
        assert_eq!(rc.args, ["/ep", "a", "b"]);
        assert_eq!(rc.env, ["A=1", "PATH=/bin", "HOME=/home/app"]);
        assert_eq!((rc.uid, rc.gid, rc.additional_gids.clone()), (1000, 1000, vec![50, 10]));
        assert_eq!((rc.cwd.as_str(), rc.stop_signal.as_deref()), ("/w", Some("SIGQUIT")));
        assert_eq!(
            (rc.exposed_ports.clone(), rc.volumes.clone()),
            (vec!["80/tcp".to_string()], vec!["/data".to_string()])
        );
        // Overrides: a command replaces Cmd; an entrypoint drops Cmd; env by key.
        let o = Overrides {
            cmd: Some(vec!["x".into()]),
            env: vec!["A=2".into()],
            user: Some("app:staff".into()),
            ..Default::default()
        };
        let rc = resolve(&c, &r, &o).unwrap();
        assert_eq!(rc.args, ["/ep", "x"]);
        assert!(rc.env.contains(&"A=2".to_string()) && !rc.env.contains(&"A=1".to_string()));
        assert_eq!((rc.gid, rc.additional_gids.clone()), (50, vec![]));
        let o = Overrides { entrypoint: Some(vec!["/bin/sh".into()]), ..Default::default() };
        assert_eq!(resolve(&c, &r, &o).unwrap().args, ["/bin/sh"]);
        let o = Overrides { entrypoint: Some(vec!["".into()]), ..Default::default() };
        assert!(resolve(&c, &r, &o).unwrap_err().to_string().contains("no command specified"));
        // Numeric users need no passwd entry; unknown names are refused.
        let bare = config(
            r#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"config":{"Cmd":["sh"]}}"#,
        );
        let rc = resolve(&bare, &r, &Overrides { user: Some("4242:4343".into()), ..Default::default() }).unwrap();
        assert_eq!((rc.uid, rc.gid, rc.env[0].as_str()), (4242, 4343, DEFAULT_PATH));
        let e = resolve(&bare, &r, &Overrides { user: Some("nobody".into()), ..Default::default() }).unwrap_err();
        assert!(e.to_string().contains("unable to find user nobody"), "{e}");
        let spec = to_spec(&rc, "/rootfs", Some("h")).unwrap();
        assert_eq!(spec.process().as_ref().unwrap().user().uid(), 4242);
        std::fs::remove_dir_all(&r).unwrap();
    }

    #[test]
    fn passwd_is_read_inside_the_image() {
        let r = rootfs("inside");
        std::fs::remove_file(r.join("etc/passwd")).unwrap();
        // An absolute symlink to the host's file resolves inside the image (to nothing).
        std::os::unix::fs::symlink("/etc/shadow", r.join("etc/passwd")).unwrap();
        let e = resolve_user(&r, "root").unwrap_err();
        assert!(e.to_string().contains("unable to find user root"), "{e}");
        assert_eq!(resolve_user(&r, "").unwrap().0, 0);
        std::fs::remove_dir_all(&r).unwrap();
    }
}
