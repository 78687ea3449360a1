//! A container's files: `export` (its whole tree as a tar), `changes` (what it changed
//! against its image, Docker's `diff`), `commit` ([`commit`]: those changes as a new
//! image) and the archives `cp` moves in and out ([`cp`]).
//!
//! `export`, `changes` and `commit` read the root filesystem from the host: its
//! overlay upper directory and merged view (hull-image's `changes` and `pack`, which
//! never follow a symlink out of the tree). Rootless with subordinate ids they read it
//! in a helper (`hull __tree`) in the containers' user namespace, which sees the
//! owners the container sees and may read every file.

pub mod commit;
pub mod cp;

use crate::error::{Error, Result};
use crate::record::Record;
use crate::Engine;
use hull_image::changes::{self, Change};
use serde::{Deserialize, Serialize};
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;

/// One changed path, as Docker's `GET /containers/{id}/changes` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FileChange {
    pub path: String,
    /// 0 modified, 1 added, 2 deleted.
    pub kind: u8,
}

impl FileChange {
    /// Docker's letter for the kind: C, A or D.
    pub fn letter(&self) -> char {
        match self.kind {
            1 => 'A',
            2 => 'D',
            _ => 'C',
        }
    }
}

impl Engine {
    /// The image container `r` was made from.
    pub(crate) fn image_of(&self, r: &Record) -> Result<hull_image::image::Image> {
        let rec = self.images.find(&r.image_id)?;
        Ok(self.images.load(&rec)?)
    }

    /// Writes container `id`'s whole root filesystem to `out` as a tar.
    pub fn export(&self, id: &str, out: &mut dyn Write) -> Result<()> {
        read_tree(self, id, Tree::Export, out)
    }

    /// What container `id` changed against its image (the mount points the runtime
    /// made left out).
    pub fn changes(&self, id: &str) -> Result<Vec<FileChange>> {
        let mut lines = Vec::new();
        read_tree(self, id, Tree::Diff, &mut lines)?;
        Ok(String::from_utf8_lossy(&lines)
            .lines()
            .filter_map(|l| {
                let (k, p) = l.split_once(' ')?;
                let kind = match k {
                    "A" => 1,
                    "D" => 2,
                    _ => 0,
                };
                Some(FileChange { path: p.to_owned(), kind })
            })
            .collect())
    }
}

/// The mount destinations of the container's config, relative to its root.
fn mount_points(engine: &Engine, id: &str) -> Vec<PathBuf> {
    let Ok(bytes) = std::fs::read(engine.dir(id).join("config.json")) else { return Vec::new() };
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) else { return Vec::new() };
    v["mounts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["destination"].as_str())
        .map(|d| Path::new(d).components().filter(|c| matches!(c, std::path::Component::Normal(_))).collect())
        .filter(|p: &PathBuf| !p.as_os_str().is_empty())
        .collect()
}

/// What `export`, `diff` and `commit` read from a container's root filesystem.
#[derive(Clone, Copy)]
pub(crate) enum Tree {
    /// The whole tree as a tar.
    Export,
    /// The changes against the image, one `K /path` line each.
    Diff,
    /// The changes as a layer tar.
    Changes,
}

/// Writes what `op` reads from container `id`'s root filesystem to `out`: from this
/// process, or (rootless with subordinate ids) from a helper in the containers' user
/// namespace, which sees the owners the container sees and may read every file.
pub(crate) fn read_tree(engine: &Engine, id: &str, op: Tree, out: &mut dyn Write) -> Result<()> {
    let r = engine.record(id)?;
    let lowers = hull_image::container_root::lowers(&engine.images, &engine.image_of(&r)?)?;
    let mut args: Vec<OsString> = vec![
        match op {
            Tree::Export => "export",
            Tree::Diff => "diff",
            Tree::Changes => "changes",
        }
        .into(),
        engine.dir(id).join("rootfs").into(),
    ];
    args.extend(lowers.into_iter().map(OsString::from));
    args.push("--".into());
    args.extend(mount_points(engine, id).into_iter().map(OsString::from));
    let Some(m) = engine.userns().filter(|m| m.wide()) else {
        return Ok(tree_work(&args, false, out)?);
    };
    let mut c = crate::userns::hull_command("__tree");
    c.args(&args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = crate::userns::spawn(m, c)?;
    let copied = std::io::copy(&mut child.stdout.take().expect("piped"), out);
    let done = child.wait_with_output().map_err(Error::at("wait for the helper reading the container's files"))?;
    if !done.status.success() {
        let msg = String::from_utf8_lossy(&done.stderr);
        return Err(Error::Conflict(msg.trim().trim_start_matches("Error: ").to_string()));
    }
    copied.map_err(Error::at("write the container's files"))?;
    Ok(())
}

/// `ROOTFS_DIR LOWER… -- MOUNT_POINT…` after the operation's name; `in_userns`: this
/// is the helper in the containers' user namespace, where the copy has the owners a
/// rootless unpack recorded.
fn tree_work(args: &[OsString], in_userns: bool, out: &mut dyn Write) -> hull_image::Result<()> {
    let bad = || hull_image::Error::Reference("__tree: bad arguments".into());
    let (op, rest) = args.split_first().ok_or_else(bad)?;
    let (dir, rest) = rest.split_first().ok_or_else(bad)?;
    let dir = Path::new(dir);
    let sep = rest.iter().position(|a| a == "--").ok_or_else(bad)?;
    let lowers: Vec<PathBuf> = rest[..sep].iter().map(PathBuf::from).collect();
    let mount_points: Vec<PathBuf> = rest[sep + 1..].iter().map(PathBuf::from).collect();
    let write_err = |e| hull_image::Error::Io { what: "write the output".into(), source: e };
    match op.to_str() {
        Some("export") => hull_image::pack::pack_dir(&dir.join("merged"), out),
        Some("diff") => {
            for c in changes::changes(&lowers, dir, &mount_points, in_userns)? {
                writeln!(out, "{} /{}", c.kind.letter(), c.path.display()).map_err(write_err)?;
            }
            Ok(())
        }
        Some("changes") => {
            let c: Vec<Change> = changes::changes(&lowers, dir, &mount_points, in_userns)?;
            changes::pack_changes(&dir.join("merged"), &c, out)
        }
        _ => Err(bad()),
    }
}

/// `hull __tree OP …`: [`tree_work`] to standard output, run in a user namespace.
pub fn tree_main(args: Vec<OsString>) -> i32 {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match tree_work(&args, true, &mut out)
        .and_then(|()| out.flush().map_err(|e| hull_image::Error::Io { what: "write the output".into(), source: e }))
    {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("Error: {e}");
            1
        }
    }
}
