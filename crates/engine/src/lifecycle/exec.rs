//! Exec (Docker's `POST /containers/{id}/exec`): the process an exec runs, built from
//! the container's own config and the caller's settings. The caller runs it with
//! hull-container's `exec`, as a child of a single-threaded process.

use crate::error::{Error, Result};
use crate::record::ContainerStatus;
use crate::Engine;
use serde::{Deserialize, Serialize};

/// An exec's settings: the fields of Docker's exec-create body that hull honours.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ExecConfig {
    pub cmd: Vec<String>,
    /// `NAME=VALUE` (or `NAME`, taken from the caller's environment by the front end).
    pub env: Vec<String>,
    pub tty: bool,
    pub user: Option<String>,
    pub working_dir: Option<String>,
    pub privileged: bool,
}

impl Engine {
    /// Logs an exec's event as Docker's: `exec_create: CMD`, `exec_start: CMD`, and
    /// `exec_die` with its exit code.
    pub fn exec_event(&self, id: &str, action: &str, exec_id: &str, cmd: &[String], exit_code: Option<i32>) {
        let Ok(r) = self.record(id) else { return };
        let action = if action == "exec_die" { action.to_owned() } else { format!("{action}: {}", cmd.join(" ")) };
        let mut extra = vec![("execID", exec_id.to_owned())];
        if let Some(c) = exit_code {
            extra.push(("exitCode", c.to_string()));
        }
        self.container_event(&r, &action, &extra);
    }

    /// The runtime process of an exec in the running container `id`.
    pub fn exec_process(&self, id: &str, cfg: &ExecConfig) -> Result<oci_spec::runtime::Process> {
        let c = self.container(id)?;
        match c.status {
            ContainerStatus::Running => {}
            ContainerStatus::Paused => {
                return Err(Error::Conflict(format!("Container {id} is paused, unpause the container before exec")))
            }
            _ => return Err(Error::NotRunning(format!("Container {id} is not running"))),
        }
        if cfg.cmd.is_empty() {
            return Err(Error::Invalid("No exec command specified".into()));
        }
        let path = self.dir(id).join("config.json");
        let spec = hull_container::spec::load_spec(&path)?;
        let mut process =
            spec.process().clone().ok_or_else(|| Error::Invalid(format!("{}: no process", path.display())))?;
        let rootfs = spec.root().as_ref().map(|r| r.path().clone()).unwrap_or_default();
        let mut env: Vec<String> = c.record.config.env.clone();
        for e in &cfg.env {
            if let Some((k, _)) = e.split_once('=') {
                env.retain(|x| x.split_once('=').map(|(xk, _)| xk) != Some(k));
                env.push(e.clone());
            }
        }
        if cfg.tty && !env.iter().any(|e| e.starts_with("TERM=")) {
            env.push("TERM=xterm".into());
        }
        process.set_args(Some(cfg.cmd.clone()));
        process.set_env(Some(env));
        process.set_terminal(Some(cfg.tty));
        if let Some(w) = cfg.working_dir.as_deref().filter(|w| !w.is_empty()) {
            process.set_cwd(w.into());
        }
        if let Some(u) = cfg.user.as_deref().filter(|u| !u.is_empty()) {
            let (uid, gid, gids, _) = hull_image::runconfig::resolve_user(&rootfs, u)?;
            let user = oci_spec::runtime::UserBuilder::default()
                .uid(uid)
                .gid(gid)
                .additional_gids(gids)
                .build()
                .map_err(|e| Error::Invalid(format!("exec: user {u}: {e}")))?;
            process.set_user(user);
        }
        if cfg.privileged {
            let all: std::collections::HashSet<_> = crate::runtime_config::capabilities(true, &[], &[])?
                .iter()
                .filter_map(|c| hull_container::capabilities::parse(c))
                .collect();
            let mut caps = process.capabilities().clone().unwrap_or_else(|| {
                // oci-spec's default sets carry another runtime's choice: none but these.
                let mut c = oci_spec::runtime::LinuxCapabilities::default();
                c.set_inheritable(None);
                c.set_ambient(None);
                c
            });
            caps.set_bounding(Some(all.clone()));
            caps.set_effective(Some(all.clone()));
            caps.set_permitted(Some(all));
            process.set_capabilities(Some(caps));
        }
        Ok(process)
    }
}

/// An exec instance of the API (`POST /containers/{id}/exec`), kept in the container's
/// directory (`execs/ID.json`) from its creation to the container's removal, so that
/// any server (or a new one) can start and inspect it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ExecRecord {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "ContainerID")]
    pub container_id: String,
    pub config: ExecConfig,
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    pub running: bool,
    pub exit_code: Option<i32>,
    pub pid: i32,
}

impl Engine {
    fn exec_path(&self, container: &str, exec_id: &str) -> std::path::PathBuf {
        self.dir(container).join("execs").join(format!("{exec_id}.json"))
    }

    /// Records a new exec instance of running container `id`; returns it.
    pub fn create_exec(
        &self,
        id: &str,
        cfg: ExecConfig,
        stdin: bool,
        stdout: bool,
        stderr: bool,
    ) -> Result<ExecRecord> {
        // Checked now, as Docker's create does: running, a command, a known user.
        self.exec_process(id, &cfg)?;
        let rec = ExecRecord {
            id: crate::new_id()?,
            container_id: id.to_owned(),
            config: cfg,
            attach_stdin: stdin,
            attach_stdout: stdout,
            attach_stderr: stderr,
            ..Default::default()
        };
        std::fs::create_dir_all(self.dir(id).join("execs")).map_err(Error::at("create the execs directory"))?;
        self.save_exec(&rec)?;
        self.exec_event(id, "exec_create", &rec.id, &rec.config.cmd, None);
        Ok(rec)
    }

    /// Exec instance `exec_id`, found among the containers' (the newest match).
    pub fn exec_record(&self, exec_id: &str) -> Result<ExecRecord> {
        let valid = !exec_id.is_empty() && exec_id.bytes().all(|b| b.is_ascii_hexdigit());
        for c in self.ids()?.iter().filter(|_| valid) {
            if let Ok(b) = std::fs::read(self.exec_path(c, exec_id)) {
                return serde_json::from_slice(&b).map_err(|e| Error::Invalid(format!("exec {exec_id}: {e}")));
            }
        }
        Err(Error::NoSuchExec(exec_id.to_owned()))
    }

    /// Writes `rec` back (whole, renamed into place).
    pub fn save_exec(&self, rec: &ExecRecord) -> Result<()> {
        let p = self.exec_path(&rec.container_id, &rec.id);
        let tmp = p.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, serde_json::to_vec(rec).expect("an exec record serialises"))
            .map_err(Error::at(format!("write {}", tmp.display())))?;
        std::fs::rename(&tmp, &p).map_err(Error::at(format!("rename {}", p.display())))
    }
}
