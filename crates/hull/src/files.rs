//! `hull cp`, `export`, `diff` and `commit`: the flags into hull-engine's file
//! operations. `cp` keeps the host's side: where a copy out lands on the host
//! (Docker's rules, hull-image's hardened unpacker in `plain` mode: `.wh.` names are
//! files, no device nodes out of a container, owners the caller's without `-a`), and
//! packing a host path for a copy in.

use crate::cli::{CommitArgs, CpArgs, DiffArgs, ExportArgs};
use hull_engine::error::{Error, Result};
use hull_engine::files::commit::CommitOptions;
use hull_engine::files::cp::{placement, source_name, Incoming};
use hull_engine::Engine;
use hull_image::unpack::Options;
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

pub fn diff(engine: &Engine, a: &DiffArgs) -> Result<i32> {
    let id = engine.resolve(&a.container)?;
    let mut out = std::io::stdout().lock();
    for c in engine.changes(&id)? {
        let _ = writeln!(out, "{} {}", c.letter(), c.path);
    }
    Ok(0)
}

pub fn export(engine: &Engine, a: &ExportArgs) -> Result<i32> {
    let id = engine.resolve(&a.container)?;
    match &a.output {
        Some(p) => {
            let tmp = p.with_file_name(format!(".{}.hull-tmp", p.file_name().unwrap_or_default().to_string_lossy()));
            let result = (|| {
                let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp).map_err(Error::at(tmp.display()))?);
                engine.export(&id, &mut f)?;
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
            engine.export(&id, &mut w)?;
            w.flush().map_err(Error::at("write to standard output"))?;
        }
    }
    Ok(0)
}

pub fn commit(engine: &Engine, a: &CommitArgs) -> Result<i32> {
    let id = engine.resolve(&a.container)?;
    let opts = CommitOptions {
        reference: a.reference.clone(),
        comment: a.message.clone(),
        author: a.author.clone(),
        changes: a.change.clone(),
        pause: a.pause,
    };
    println!("{}", engine.commit(&id, &opts)?);
    Ok(0)
}

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
    let src = if src.is_empty() { "/" } else { src };
    let mut archive = engine.archive_out(&id, src, a.follow_link)?;
    let result = (|| -> Result<()> {
        if dest == "-" {
            let mut stdout = std::io::stdout().lock();
            std::io::copy(&mut archive, &mut stdout).map_err(Error::at("write to standard output"))?;
            return Ok(());
        }
        let (base, contents) = source_name(src);
        let dest_meta = std::fs::metadata(dest).ok();
        let landing = placement(dest, dest_meta.as_ref().map(|m| m.is_dir()), archive.is_dir, contents, &base)?;
        let owner = (!a.archive).then(|| (nix::unistd::getuid().as_raw(), nix::unistd::getgid().as_raw()));
        let opts = Options { plain: true, owner, no_devices: true, ..Default::default() };
        landing.unpack(&mut archive, opts).map_err(|e| Error::Invalid(format!("copy to {dest}: {e}")))?;
        Ok(())
    })();
    let finished = archive.finish();
    result?;
    finished?;
    Ok(0)
}

fn cp_in(engine: &Engine, a: &CpArgs, src: &str, name: &str, dest: &str) -> Result<i32> {
    let id = engine.resolve(name)?;
    if src == "-" {
        // A tar stream on standard input, unpacked as it is into the directory DEST.
        let mut w = engine.archive_in(&id, dest, &Incoming::Entries, a.archive)?;
        let copied = std::io::copy(&mut std::io::stdin().lock(), &mut w);
        w.finish()?;
        copied.map_err(Error::at("read standard input"))?;
        return Ok(0);
    }
    let follow = a.follow_link || src.ends_with('/');
    let meta = if follow { std::fs::metadata(src) } else { std::fs::symlink_metadata(src) }
        .map_err(|e| Error::io(format!("stat {src}"), e))?;
    let (base, contents) = source_name(src);
    if contents && !meta.is_dir() {
        return Err(Error::Invalid(format!("{src}: not a directory")));
    }
    let top = if contents { OsString::from(".") } else { base };
    let mut w = engine.archive_in(&id, dest, &Incoming::Named { dir: meta.is_dir(), base: top.clone() }, a.archive)?;
    let path = if follow {
        std::fs::canonicalize(src).map_err(|e| Error::io(format!("resolve {src}"), e))?
    } else {
        PathBuf::from(src)
    };
    let packed = hull_image::pack::pack_tree(&path, Path::new(&top), &mut w);
    w.finish()?;
    packed?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sides() {
        assert!(matches!(side("c:/x"), Side::Container("c", "/x")));
        assert!(matches!(side("./c:/x"), Side::Local(_)));
        assert!(matches!(side("/a:b"), Side::Local(_)));
        assert!(matches!(side("-"), Side::Local("-")));
    }
}
