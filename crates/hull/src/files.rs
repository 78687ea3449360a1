//! `hull cp`, `export`, `diff` and `commit`: a container's files.
//!
//! `cp` resolves the container's side inside the container, never on the host: a
//! helper process (this binary as `hull __cp`, so it starts single-threaded) enters
//! the container's mount namespace (a running container: volumes and tmpfs mounts are
//! seen as the container sees them) or chroots into its root filesystem (a stopped
//! one), and packs or unpacks a tar stream there; hull keeps the host's side. Symlinks
//! planted in the container therefore resolve inside it. Docker's rules decide where a
//! copy lands (`dir/.` for a directory's contents, a missing destination names the
//! copy, a trailing `/` wants a directory). Without `-a` copies belong to the caller
//! (out) or to root (in), as Docker's.
//!
//! `export`, `diff` and `commit` read the root filesystem from the host: its overlay
//! upper directory and merged view (hull-image's `changes` and `pack`, which never
//! follow a symlink out of the tree). Rootless with subordinate ids they read it in a
//! helper (`hull __tree`) in the containers' user namespace, which sees the owners the
//! container sees and may read every file. Rootless, `cp` joins the container's user
//! namespace too.

use crate::cli::{CommitArgs, CpArgs, DiffArgs, ExportArgs};
use hull_engine::error::{Error, Result};
use hull_engine::record::{Record, Status};
use hull_engine::Engine;
use hull_image::changes::{self, Change};
use hull_image::unpack::{self, Options};
use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn merged(engine: &Engine, id: &str) -> PathBuf {
    engine.dir(id).join("rootfs/merged")
}

/// The image container `r` was made from.
fn image_of(engine: &Engine, r: &Record) -> Result<hull_image::image::Image> {
    let rec = engine.images.find(&r.image_id)?;
    Ok(engine.images.load(&rec)?)
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
enum Tree {
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
fn read_tree(engine: &Engine, id: &str, op: Tree, out: &mut dyn Write) -> Result<()> {
    let r = engine.record(id)?;
    let lowers = hull_image::rootfs::lowers(&engine.images, &image_of(engine, &r)?)?;
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
    let mut c = hull_engine::userns::hull_command("__tree");
    c.args(&args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = hull_engine::userns::spawn(m, c)?;
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

pub fn diff(engine: &Engine, a: &DiffArgs) -> Result<i32> {
    let id = engine.resolve(&a.container)?;
    let mut out = std::io::stdout().lock();
    read_tree(engine, &id, Tree::Diff, &mut out)?;
    Ok(0)
}

pub fn export(engine: &Engine, a: &ExportArgs) -> Result<i32> {
    let id = engine.resolve(&a.container)?;
    match &a.output {
        Some(p) => {
            let tmp = p.with_file_name(format!(".{}.hull-tmp", p.file_name().unwrap_or_default().to_string_lossy()));
            let result = (|| {
                let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp).map_err(Error::at(tmp.display()))?);
                read_tree(engine, &id, Tree::Export, &mut f)?;
                f.into_inner().map_err(|e| Error::io(tmp.display().to_string(), e.into_error()))?;
                std::fs::rename(&tmp, p).map_err(Error::at(p.display()))
            })();
            if result.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            result?;
        }
        None => {
            let out = std::io::stdout();
            if std::io::IsTerminal::is_terminal(&out) {
                return Err(Error::Invalid("cowardly refusing to write a tar archive to a terminal (use -o)".into()));
            }
            let mut w = std::io::BufWriter::new(out.lock());
            read_tree(engine, &id, Tree::Export, &mut w)?;
            w.flush().map_err(Error::at("write to standard output"))?;
        }
    }
    Ok(0)
}

pub fn commit(engine: &Engine, a: &CommitArgs) -> Result<i32> {
    let id = engine.resolve(&a.container)?;
    let _lock = engine.lock(&id)?;
    let c = engine.container(&id)?;
    let paused = a.pause && c.status == Status::Running;
    if paused {
        hull_container::container::pause(&engine.runtime, &id)?;
    }
    let result = commit_locked(engine, &id, a);
    if paused {
        let _ = hull_container::container::resume(&engine.runtime, &id);
    }
    println!("{}", result?);
    Ok(0)
}

fn commit_locked(engine: &Engine, id: &str, a: &CommitArgs) -> Result<String> {
    let r = engine.record(id)?;
    let image = image_of(engine, &r)?;
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
    for ch in &a.change {
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
            comment: a.message.clone(),
            author: a.author.clone(),
            names: a.reference.iter().cloned().collect(),
        },
        &mut |w| {
            read_tree(engine, id, Tree::Changes, w).map_err(|e| hull_image::Error::Io {
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

// ---- cp ----

/// A side of `hull cp`: the container's (by name) or the host's.
enum Side<'a> {
    Container(&'a str, &'a str),
    Local(&'a str),
}

/// Docker's rule: `NAME:PATH` is a container's path unless the argument starts like a
/// local path (`/`, `.`).
fn side(arg: &str) -> Side<'_> {
    if arg.starts_with('/') || arg.starts_with('.') {
        return Side::Local(arg);
    }
    match arg.split_once(':') {
        Some((c, p)) if !c.is_empty() => Side::Container(c, p),
        _ => Side::Local(arg),
    }
}

/// How the helper enters the container's files.
fn target(engine: &Engine, id: &str) -> Result<String> {
    let c = engine.container(id)?;
    if matches!(c.status, Status::Running | Status::Paused) {
        if let Ok(l) = hull_container::container::load(&engine.runtime, id) {
            return Ok(format!("pid:{}:{}", l.state.pid, l.state.pid_start));
        }
    }
    let m = merged(engine, id);
    if !m.is_dir() {
        return Err(Error::Conflict(format!("the root filesystem of container {id} is gone")));
    }
    Ok(format!("root:{}", m.display()))
}

fn helper(engine: &Engine, args: &[&OsStr], stdin: Stdio, stdout: Stdio) -> Result<std::process::Child> {
    use std::os::unix::process::CommandExt;
    // Rootless, a stopped container's files are reached from a user namespace with
    // its mapping (a running one's by joining its own).
    let chroot = args.get(1).is_some_and(|t| t.as_encoded_bytes().starts_with(b"root:"));
    if let Some(m) = engine.userns().filter(|_| chroot) {
        let mut c = hull_engine::userns::hull_command("__cp");
        c.args(args).stdin(stdin).stdout(stdout);
        return hull_engine::userns::spawn(m, c);
    }
    Command::new("/proc/self/exe")
        .arg0("hull")
        .arg("__cp")
        .args(args)
        .stdin(stdin)
        .stdout(stdout)
        .spawn()
        .map_err(Error::at("start the copy helper (/proc/self/exe)"))
}

pub fn cp(engine: &Engine, a: &CpArgs) -> Result<i32> {
    match (side(&a.source), side(&a.destination)) {
        (Side::Container(c, src), Side::Local(dest)) => cp_out(engine, a, c, src, dest),
        (Side::Local(src), Side::Container(c, dest)) => cp_in(engine, a, src, c, dest),
        (Side::Container(..), Side::Container(..)) => {
            Err(Error::Invalid("copying between containers is not supported".into()))
        }
        (Side::Local(_), Side::Local(_)) => {
            Err(Error::Invalid("one of the paths must name a container (CONTAINER:PATH)".into()))
        }
    }
}

fn cp_out(engine: &Engine, a: &CpArgs, name: &str, src: &str, dest: &str) -> Result<i32> {
    let id = engine.resolve(name)?;
    let t = target(engine, &id)?;
    let follow = if a.follow_link { "1" } else { "0" };
    let src = if src.is_empty() { "/" } else { src };
    let mut child = helper(
        engine,
        &[OsStr::new("out"), OsStr::new(&t), OsStr::new(src), OsStr::new(follow)],
        Stdio::null(),
        Stdio::piped(),
    )?;
    let mut out = child.stdout.take().expect("piped");
    let result = (|| -> Result<()> {
        let mut kind = [0u8; 1];
        if out.read(&mut kind).map_err(Error::at("read from the copy helper"))? == 0 {
            return Ok(()); // it failed and said why
        }
        if dest == "-" {
            let mut stdout = std::io::stdout().lock();
            std::io::copy(&mut out, &mut stdout).map_err(Error::at("write to standard output"))?;
            return Ok(());
        }
        let src_dir = kind[0] == b'd';
        let (base, contents) = source_name(src);
        let dest_meta = std::fs::metadata(dest).ok();
        let landing = placement(dest, dest_meta.as_ref().map(|m| m.is_dir()), src_dir, contents, &base)?;
        let owner = (!a.archive).then(|| (nix::unistd::getuid().as_raw(), nix::unistd::getgid().as_raw()));
        let opts = Options { plain: true, owner, no_devices: true, ..Default::default() };
        landing.unpack(&mut out, opts).map_err(|e| Error::Invalid(format!("copy to {dest}: {e}")))?;
        Ok(())
    })();
    drop(out);
    let status = child.wait().map_err(Error::at("wait for the copy helper"))?;
    result?;
    Ok(if status.success() { 0 } else { 1 })
}

fn cp_in(engine: &Engine, a: &CpArgs, src: &str, name: &str, dest: &str) -> Result<i32> {
    let id = engine.resolve(name)?;
    let t = target(engine, &id)?;
    let dest = if dest.is_empty() { "/" } else { dest };
    let archive = if a.archive { "1" } else { "0" };
    if src == "-" {
        // A tar stream on standard input, unpacked as it is into the directory DEST.
        let mut child = helper(
            engine,
            &[
                OsStr::new("in"),
                OsStr::new(&t),
                OsStr::new(dest),
                OsStr::new("-"),
                OsStr::new("."),
                OsStr::new(archive),
            ],
            Stdio::inherit(),
            Stdio::inherit(),
        )?;
        let status = child.wait().map_err(Error::at("wait for the copy helper"))?;
        return Ok(if status.success() { 0 } else { 1 });
    }
    let follow = a.follow_link || src.ends_with('/');
    let meta = if follow { std::fs::metadata(src) } else { std::fs::symlink_metadata(src) }
        .map_err(|e| Error::io(format!("stat {src}"), e))?;
    let (base, contents) = source_name(src);
    if contents && !meta.is_dir() {
        return Err(Error::Invalid(format!("{src}: not a directory")));
    }
    let kind = if meta.is_dir() { "d" } else { "f" };
    let top = if contents { OsString::from(".") } else { base };
    let mut child = helper(
        engine,
        &[OsStr::new("in"), OsStr::new(&t), OsStr::new(dest), OsStr::new(kind), &top, OsStr::new(archive)],
        Stdio::piped(),
        Stdio::inherit(),
    )?;
    let mut input = child.stdin.take().expect("piped");
    let path = if follow {
        std::fs::canonicalize(src).map_err(|e| Error::io(format!("resolve {src}"), e))?
    } else {
        PathBuf::from(src)
    };
    let packed = hull_image::pack::pack_tree(&path, Path::new(&top), &mut input);
    drop(input);
    let status = child.wait().map_err(Error::at("wait for the copy helper"))?;
    if !status.success() {
        return Ok(1); // the helper said why
    }
    packed?;
    Ok(0)
}

/// The name a source is copied under, and whether its contents are wanted (`dir/.`).
fn source_name(src: &str) -> (OsString, bool) {
    let trimmed = src.trim_end_matches('/');
    let contents = trimmed.ends_with("/.") || trimmed == ".";
    let p = Path::new(trimmed);
    let base = p.file_name().map(OsStr::to_owned).unwrap_or_else(|| OsString::from("."));
    let contents = contents || base == ".";
    (base, contents)
}

/// Where a copy lands: the directory to unpack into (made first if `create`), and how
/// the source's name is renamed there.
#[derive(Debug, PartialEq)]
struct Landing {
    dir: PathBuf,
    rename: Option<(OsString, OsString)>,
    create: bool,
}

impl Landing {
    /// Makes the directory if asked, then unpacks `r` there.
    fn unpack(&self, r: impl Read, opts: Options) -> hull_image::Result<()> {
        if self.create {
            match std::fs::create_dir(&self.dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => {
                    return Err(hull_image::Error::Io { what: format!("create {}", self.dir.display()), source: e })
                }
            }
        }
        let rename = self.rename.as_ref().map(|(f, t)| (f.as_bytes(), t.as_bytes()));
        unpack::unpack_renamed(r, &self.dir, opts, rename).map(|_| ())
    }
}

/// Docker's rules for where a copy lands. The source is packed under its own name
/// (`base`), or as its contents (`dir/.`).
fn placement(dest: &str, dest_is_dir: Option<bool>, src_dir: bool, contents: bool, base: &OsStr) -> Result<Landing> {
    let trailing = dest.ends_with('/') || dest.ends_with("/.");
    let d = Path::new(dest);
    let parent = match d.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let leaf = d.file_name().map(OsStr::to_owned).unwrap_or_default();
    let at = |dir: PathBuf, rename: Option<(OsString, OsString)>, create: bool| Ok(Landing { dir, rename, create });
    match dest_is_dir {
        Some(true) => at(d.to_owned(), None, false),
        Some(false) if src_dir => Err(Error::Invalid(format!("cannot copy a directory to the file {dest}"))),
        Some(false) if trailing => Err(Error::Invalid(format!("{dest}: not a directory"))),
        Some(false) => at(parent, Some((base.to_owned(), leaf)), false),
        None if trailing && !src_dir => Err(Error::Invalid(format!("{dest}: no such directory"))),
        None if contents => at(d.to_owned(), None, true),
        None => at(parent, Some((base.to_owned(), leaf)), false),
    }
}

/// `hull __cp out TARGET SRC FOLLOW` / `hull __cp in TARGET DEST KIND BASE ARCHIVE`: the
/// helper inside the container (see the module's doc). Prints one error line and
/// exits 1 on failure.
pub fn helper_main(args: Vec<OsString>) -> i32 {
    match helper_run(&args) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("Error: {e}");
            1
        }
    }
}

fn helper_run(args: &[OsString]) -> Result<()> {
    let arg =
        |i: usize| args.get(i).and_then(|a| a.to_str()).ok_or_else(|| Error::Invalid("bad helper arguments".into()));
    enter(arg(1)?)?;
    match arg(0)? {
        "out" => {
            let (src, follow) = (arg(2)?, arg(3)? == "1");
            let (base, contents) = source_name(src);
            let path = if follow || src.ends_with('/') {
                std::fs::canonicalize(src).map_err(|e| not_found(src, e))?
            } else {
                PathBuf::from(src)
            };
            let m = std::fs::symlink_metadata(&path).map_err(|e| not_found(src, e))?;
            if contents && !m.is_dir() {
                return Err(Error::Invalid(format!("{src}: not a directory")));
            }
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            out.write_all(if m.is_dir() { b"d" } else { b"f" }).map_err(Error::at("write"))?;
            let top = if contents { PathBuf::from(".") } else { PathBuf::from(&base) };
            hull_image::pack::pack_tree(&path, &top, &mut out)?;
            out.flush().map_err(Error::at("write"))
        }
        "in" => {
            let (dest, kind, base, archive) = (arg(2)?, arg(3)?, args[4].as_os_str(), arg(5)? == "1");
            let dest_is_dir = std::fs::metadata(dest).ok().map(|m| m.is_dir());
            let landing = if kind == "-" {
                if dest_is_dir != Some(true) {
                    return Err(Error::Invalid(format!("{dest}: no such directory in the container")));
                }
                Landing { dir: PathBuf::from(dest), rename: None, create: false }
            } else {
                placement(dest, dest_is_dir, kind == "d", base == ".", base)?
            };
            let opts = Options { plain: true, owner: (!archive).then_some((0, 0)), ..Default::default() };
            landing
                .unpack(std::io::stdin().lock(), opts)
                .map_err(|e| Error::Invalid(format!("copy to {dest} in the container: {e}")))?;
            Ok(())
        }
        _ => Err(Error::Invalid("bad helper arguments".into())),
    }
}

fn not_found(p: &str, e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        Error::Invalid(format!("Could not find the file {p} in the container"))
    } else {
        Error::io(p.to_string(), e)
    }
}

/// Makes the container's root this process's root: its mount namespace (`pid:PID:START`)
/// or a chroot into its root filesystem (`root:PATH`).
fn enter(target: &str) -> Result<()> {
    if let Some(rest) = target.strip_prefix("pid:") {
        let (pid, start) = rest.split_once(':').ok_or_else(|| Error::Invalid("bad helper target".into()))?;
        let pid: i32 = pid.parse().map_err(|_| Error::Invalid("bad helper target".into()))?;
        let start: u64 = start.parse().map_err(|_| Error::Invalid("bad helper target".into()))?;
        // pidfd_open works for any process; the start time below makes sure it is the init.
        let fd = hull_container::process::clone::pidfd_of_child(pid)?;
        // After the pidfd is held, the pid cannot be reused: check it is the init.
        if !hull_container::process::is_alive(pid, start) {
            return Err(Error::Conflict("the container stopped".into()));
        }
        // Rootless, the container's user namespace first (its owner may join it).
        let mut ns = nix::sched::CloneFlags::CLONE_NEWNS;
        if !nix::unistd::geteuid().is_root() {
            ns |= nix::sched::CloneFlags::CLONE_NEWUSER;
        }
        nix::sched::setns(&fd, ns)
            .map_err(|e| Error::io(format!("enter the mount namespace of process {pid}"), e.into()))?;
    } else if let Some(root) = target.strip_prefix("root:") {
        nix::unistd::chroot(root).map_err(|e| Error::io(format!("chroot {root}"), e.into()))?;
    } else {
        return Err(Error::Invalid("bad helper target".into()));
    }
    std::env::set_current_dir("/").map_err(Error::at("chdir /"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(dest: &str, d: Option<bool>, src_dir: bool, src: &str) -> Option<Landing> {
        let (base, contents) = source_name(src);
        placement(dest, d, src_dir, contents, &base).ok()
    }

    #[test]
    fn copies_land_where_docker_puts_them() {
        let l = |dir: &str, rename: Option<(&str, &str)>, create: bool| {
            Some(Landing { dir: dir.into(), rename: rename.map(|(f, t)| (f.into(), t.into())), create })
        };
        // A file onto a missing name, an existing file, into a directory.
        assert_eq!(place("/tmp/new", None, false, "/etc/hosts"), l("/tmp", Some(("hosts", "new")), false));
        assert_eq!(place("/tmp/f", Some(false), false, "/etc/hosts"), l("/tmp", Some(("hosts", "f")), false));
        assert_eq!(place("/tmp", Some(true), false, "/etc/hosts"), l("/tmp", None, false));
        // A directory: into an existing one, as a new one, its contents.
        assert_eq!(place("/tmp", Some(true), true, "/etc"), l("/tmp", None, false));
        assert_eq!(place("/tmp/x", None, true, "/etc"), l("/tmp", Some(("etc", "x")), false));
        assert_eq!(place("/tmp", Some(true), true, "/etc/."), l("/tmp", None, false));
        assert_eq!(place("/tmp/new", None, true, "/etc/."), l("/tmp/new", None, true));
        assert_eq!(place("rel", None, false, "a"), l(".", Some(("a", "rel")), false));
        // Refused: a directory onto a file; a file into a missing directory.
        assert!(place("/tmp/f", Some(false), true, "/etc").is_none());
        assert!(place("/tmp/nodir/", None, false, "/etc/hosts").is_none());
        assert!(place("/tmp/f/", Some(false), false, "/etc/hosts").is_none());
    }

    #[test]
    fn sides_and_changes() {
        assert!(matches!(side("c:/x"), Side::Container("c", "/x")));
        assert!(matches!(side("./c:/x"), Side::Local(_)));
        assert!(matches!(side("/a:b"), Side::Local(_)));
        assert!(matches!(side("-"), Side::Local("-")));
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
