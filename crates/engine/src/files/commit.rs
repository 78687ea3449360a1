//! Commit (Docker's `POST /commit`): a container's changes as a new image. The
//! config is the image's with the container's process settings (Cmd, Entrypoint, Env,
//! WorkingDir, User, Labels, its Healthcheck and the image's Shell, which the OCI types
//! drop) and `--change` instructions on top; the layer goes through hull-image's ingest
//! like a pulled one.

use crate::error::{Error, Result};
use crate::record::ContainerStatus;
use crate::Engine;

/// What `commit` makes (Docker's query parameters).
#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    /// `REPO[:TAG]` of the new image.
    pub reference: Option<String>,
    pub comment: Option<String>,
    pub author: Option<String>,
    /// Dockerfile instructions applied to the config (`CMD`, `ENV`, …).
    pub changes: Vec<String>,
    /// Freeze a running container while its files are read.
    pub pause: bool,
}

impl Engine {
    /// Commits container `id`; returns the new image's ID.
    pub fn commit(&self, id: &str, opts: &CommitOptions) -> Result<String> {
        let _lock = self.lock(id)?;
        let c = self.container(id)?;
        // What a killed writer left in tmp/ (a commit's layer) goes first.
        let _ = self.images.clean_tmp(false);
        let paused = opts.pause && c.status == ContainerStatus::Running;
        let marker = self.dir(id).join(crate::record::PAUSED_BY);
        if paused {
            // Who froze it: if this process dies before it thaws it, whoever reads the
            // container next does (`Engine::container`).
            let me = std::process::id() as i32;
            let start = hull_container::pid::start_time(me).unwrap_or(0);
            crate::write_atomic(&marker, format!("{me} {start}").as_bytes())?;
            hull_container::container::pause(&self.runtime, id)?;
            crate::fault::point("commit-paused");
        }
        let result = commit_locked(self, id, opts);
        if paused {
            let _ = hull_container::container::resume(&self.runtime, id);
            let _ = std::fs::remove_file(&marker);
        }
        if result.is_ok() {
            self.container_event(&c.record, "commit", &[]);
        }
        result
    }
}

fn commit_locked(engine: &Engine, id: &str, a: &CommitOptions) -> Result<String> {
    let r = engine.record(id)?;
    let image = engine.image_of(&r)?;
    let mut config = image.config.config().as_ref().map(serde_json::to_value).transpose()?.unwrap_or_default();
    if !config.is_object() {
        config = serde_json::json!({});
    }
    config["Env"] = serde_json::json!(r.config.env);
    config["Cmd"] = serde_json::json!(r.config.cmd);
    config["Entrypoint"] = serde_json::json!(r.config.entrypoint);
    config["WorkingDir"] = serde_json::json!(r.config.working_dir);
    config["User"] = serde_json::json!(r.config.user);
    // Docker-only keys the OCI types leave out: the container's health check (the
    // image's under its flags) and the image's SHELL.
    if let Some(h) = &r.config.healthcheck {
        config["Healthcheck"] = serde_json::json!(h);
    }
    if let Some(shell) = image.docker_config("Shell") {
        config["Shell"] = shell;
    }
    if !r.config.labels.is_empty() {
        let mut labels = config["Labels"].as_object().cloned().unwrap_or_default();
        for (k, v) in &r.config.labels {
            labels.insert(k.clone(), v.clone().into());
        }
        config["Labels"] = labels.into();
    }
    for ch in &a.changes {
        apply_change(&mut config, ch)?;
    }
    let mut created_by = r.path.clone();
    for arg in &r.args {
        created_by.push(' ');
        created_by.push_str(arg);
    }
    let digest = hull_image::commit::commit(
        &engine.images,
        hull_image::commit::Commit {
            parent: &image,
            config,
            created_by,
            comment: a.comment.clone(),
            author: a.author.clone(),
            names: a.reference.iter().cloned().collect(),
        },
        &mut |w| {
            super::read_tree(engine, id, super::Tree::Changes, w).map_err(|e| hull_image::Error::Io {
                what: format!("read the changes of container {id}"),
                source: std::io::Error::other(e.to_string()),
            })
        },
        crate::images::unpack_options(),
    )?;
    Ok(digest.to_string())
}

/// Applies one `--change` (a Dockerfile instruction) to an image config section.
fn apply_change(config: &mut serde_json::Value, change: &str) -> Result<()> {
    let bad = |why: &str| Error::Invalid(format!("--change {change:?}: {why}"));
    let (word, rest) = change.trim().split_once(char::is_whitespace).ok_or_else(|| bad("no argument"))?;
    let rest = rest.trim();
    // JSON (exec) form, or the shell form run by /bin/sh -c.
    let command = || -> Result<Vec<String>> {
        if rest.starts_with('[') {
            serde_json::from_str(rest).map_err(|e| bad(&e.to_string()))
        } else {
            Ok(vec!["/bin/sh".into(), "-c".into(), rest.into()])
        }
    };
    // `K=V K2="v 2"` or the old `K V` form.
    let pairs = || -> Result<Vec<(String, String)>> {
        if !rest.contains('=') {
            let (k, v) = rest.split_once(char::is_whitespace).ok_or_else(|| bad("KEY VALUE or KEY=VALUE"))?;
            return Ok(vec![(k.into(), v.trim().into())]);
        }
        let words = shell_words(rest).map_err(|e| bad(&e))?;
        words
            .into_iter()
            .map(|w| w.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())).ok_or_else(|| bad("KEY=VALUE")))
            .collect()
    };
    match word.to_ascii_uppercase().as_str() {
        "CMD" => config["Cmd"] = serde_json::json!(command()?),
        "ENTRYPOINT" => config["Entrypoint"] = serde_json::json!(command()?),
        "WORKDIR" => config["WorkingDir"] = rest.into(),
        "USER" => config["User"] = rest.into(),
        "STOPSIGNAL" => config["StopSignal"] = rest.into(),
        "ENV" => {
            let mut env: Vec<String> = serde_json::from_value(config["Env"].clone()).unwrap_or_default();
            for (k, v) in pairs()? {
                env.retain(|e| e.split_once('=').map_or(e.as_str(), |x| x.0) != k);
                env.push(format!("{k}={v}"));
            }
            config["Env"] = serde_json::json!(env);
        }
        "LABEL" => {
            let mut labels = config["Labels"].as_object().cloned().unwrap_or_default();
            for (k, v) in pairs()? {
                labels.insert(k, v.into());
            }
            config["Labels"] = labels.into();
        }
        "EXPOSE" | "VOLUME" => {
            let key = if word.eq_ignore_ascii_case("EXPOSE") { "ExposedPorts" } else { "Volumes" };
            let items: Vec<String> = if rest.starts_with('[') {
                serde_json::from_str(rest).map_err(|e| bad(&e.to_string()))?
            } else {
                rest.split_whitespace().map(String::from).collect()
            };
            let mut set = config[key].as_object().cloned().unwrap_or_default();
            for mut i in items {
                if key == "ExposedPorts" && !i.contains('/') {
                    i.push_str("/tcp");
                }
                set.insert(i, serde_json::json!({}));
            }
            config[key] = set.into();
        }
        _ => return Err(bad("only CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME and WORKDIR")),
    }
    Ok(())
}

/// Splits on blanks, with "double" and 'single' quotes and backslash escapes.
fn shell_words(s: &str) -> std::result::Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if let Some(w) = cur.take() {
                    out.push(w);
                }
            }
            '"' | '\'' => {
                let w = cur.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some(q) if q == c => break,
                        Some('\\') if c == '"' => w.extend(chars.next()),
                        Some(x) => w.push(x),
                        None => return Err("an unclosed quote".into()),
                    }
                }
            }
            '\\' => cur.get_or_insert_with(String::new).extend(chars.next()),
            c => cur.get_or_insert_with(String::new).push(c),
        }
    }
    out.extend(cur);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_as_dockerfile_instructions() {
        let mut c = serde_json::json!({"Env": ["A=1", "B=2"]});
        apply_change(&mut c, "ENV B=3 C=\"x y\"").unwrap();
        apply_change(&mut c, "CMD [\"/bin/sh\", \"-c\", \"true\"]").unwrap();
        apply_change(&mut c, "ENTRYPOINT echo hi").unwrap();
        apply_change(&mut c, "EXPOSE 80 53/udp").unwrap();
        apply_change(&mut c, "LABEL a=b").unwrap();
        apply_change(&mut c, "WORKDIR /srv").unwrap();
        assert_eq!(c["Env"], serde_json::json!(["A=1", "B=3", "C=x y"]));
        assert_eq!(c["Cmd"], serde_json::json!(["/bin/sh", "-c", "true"]));
        assert_eq!(c["Entrypoint"], serde_json::json!(["/bin/sh", "-c", "echo hi"]));
        assert_eq!(c["ExposedPorts"], serde_json::json!({"80/tcp": {}, "53/udp": {}}));
        assert_eq!(c["Labels"]["a"], "b");
        assert_eq!(c["WorkingDir"], "/srv");
        assert!(apply_change(&mut c, "RUN true").is_err());
    }
}
