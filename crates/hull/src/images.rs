//! The image verbs: images, image inspect, tag, rmi, image prune, load, save, import;
//! their output in Docker's shapes.

use crate::cli::{ImportArgs, InspectArgs, ListArgs, LoadArgs, PruneArgs, RmiArgs, SaveArgs, TagArgs};
use crate::format::{human_size, print_table};
use hull_engine::error::Result as EResult;
use hull_engine::images::ImageDeleted;
use hull_engine::Engine;
use hull_image::archive::{self, Format};
use hull_image::image::{short_id, Platform};
use hull_image::reference::Reference;
use hull_image::store::Store;
use hull_image::{Error, Result};
use serde_json::json;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

struct Row {
    repo: String,
    tag: String,
    digest: String,
    id: String,
    created: Option<String>,
    size: u64,
}

pub fn list(store: &Store, a: &ListArgs) -> Result<i32> {
    let filter = a.reference.as_deref().map(Reference::parse_bare).transpose()?;
    let mut rows = Vec::new();
    let mut records = store.images()?;
    records.sort_by_key(|r| std::cmp::Reverse(r.added));
    for rec in records {
        let Ok(img) = store.load(&rec) else { continue };
        let created = img.config.created().clone();
        let size = img.size();
        let digest = rec
            .repo_digests
            .first()
            .and_then(|d| d.split_once('@'))
            .map(|(_, d)| d.to_string())
            .unwrap_or_else(|| "<none>".into());
        let mut names: Vec<(String, String)> = rec
            .names
            .iter()
            .filter_map(|n| Reference::parse_bare(n).ok())
            .filter(|r| {
                filter
                    .as_ref()
                    .is_none_or(|f| f.name() == r.name() && f.tag.as_ref().is_none_or(|t| r.tag.as_ref() == Some(t)))
            })
            .map(|r| (r.familiar_name(), r.tag.clone().unwrap_or_else(|| "<none>".into())))
            .collect();
        if names.is_empty() {
            if filter.is_some() {
                continue;
            }
            names.push(("<none>".into(), "<none>".into()));
        }
        for (repo, tag) in names {
            rows.push(Row { repo, tag, digest: digest.clone(), id: rec.id.clone(), created: created.clone(), size });
        }
    }
    let mut out = std::io::stdout().lock();
    let id_of = |id: &str| if a.no_trunc { id.to_string() } else { short_id(id) };
    if a.quiet {
        let mut seen = std::collections::HashSet::new();
        for r in &rows {
            if seen.insert(r.id.clone()) {
                let _ = writeln!(out, "{}", id_of(&r.id));
            }
        }
        return Ok(0);
    }
    match a.format.as_deref() {
        Some("json") | Some("{{json .}}") => {
            for r in &rows {
                let v = json!({
                    "Repository": r.repo, "Tag": r.tag, "Digest": r.digest, "ID": id_of(&r.id),
                    "CreatedAt": r.created.clone().unwrap_or_default(), "CreatedSince": hull_engine::units::ago(r.created.as_deref()),
                    "Size": human_size(r.size),
                });
                let _ = writeln!(out, "{v}");
            }
        }
        None | Some("table") => {
            let mut table = vec![vec!["REPOSITORY".to_string(), "TAG".into()]];
            if a.digests {
                table[0].push("DIGEST".into());
            }
            table[0].extend(["IMAGE ID".to_string(), "CREATED".into(), "SIZE".into()]);
            for r in &rows {
                let mut row = vec![r.repo.clone(), r.tag.clone()];
                if a.digests {
                    row.push(r.digest.clone());
                }
                row.extend([id_of(&r.id), hull_engine::units::ago(r.created.as_deref()), human_size(r.size)]);
                table.push(row);
            }
            print_table(&mut out, &table);
        }
        Some(other) => return Err(Error::Reference(format!("unsupported --format {other:?}: table or json"))),
    }
    Ok(0)
}

pub use hull_engine::images::inspect_json;

pub fn inspect(store: &Store, a: &InspectArgs) -> Result<i32> {
    let mut out = Vec::new();
    let mut code = 0;
    for n in &a.images {
        match store.find(n).and_then(|r| store.load(&r)) {
            Ok(img) => out.push(inspect_json(&img)),
            Err(e) => {
                eprintln!("Error: {e}");
                code = 1;
            }
        }
    }
    println!("{}", serde_json::to_string_pretty(&out).expect("json"));
    Ok(code)
}

pub fn tag(engine: &Engine, a: &TagArgs) -> EResult<i32> {
    engine.tag_image(&a.source, &a.target)?;
    Ok(0)
}

/// `hull rmi`; an image a container uses is not deleted (its snapshots are the
/// container's lower layers), only untagged when it has other names.
pub fn remove(engine: &Engine, a: &RmiArgs) -> EResult<i32> {
    let mut code = 0;
    for n in &a.images {
        match engine.remove_image(n, a.force) {
            Ok(lines) => {
                for l in &lines {
                    match l {
                        ImageDeleted::Untagged(n) => println!("Untagged: {n}"),
                        ImageDeleted::Deleted(id) => println!("Deleted: {id}"),
                    }
                }
            }
            Err(e) => {
                eprintln!("Error: {e}");
                code = 1;
            }
        }
    }
    Ok(code)
}

pub fn prune(engine: &Engine, a: &PruneArgs) -> EResult<i32> {
    let gone = engine.prune_images(a.all)?;
    if !gone.is_empty() {
        println!("Deleted Images:");
        for id in &gone {
            println!("deleted: {id}");
        }
        println!();
    }
    println!("Total images removed: {}", gone.len());
    Ok(0)
}

/// Standard input copied into the store's tmp/ (archives are read by seeking).
fn stdin_to_file(store: &Store, what: &str) -> Result<(PathBuf, TempFile)> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Err(Error::Reference(format!(
            "requested {what} from a terminal: use -i/--input or redirect standard input"
        )));
    }
    let p = store.tmp().join(format!("blob-{}-stdin", std::process::id()));
    let mut f =
        std::fs::File::create(&p).map_err(|e| Error::Io { what: format!("create {}", p.display()), source: e })?;
    let guard = TempFile(p.clone());
    std::io::copy(&mut stdin.lock(), &mut f)
        .map_err(|e| Error::Io { what: "read standard input".into(), source: e })?;
    Ok((p, guard))
}

/// Removes a temporary file when dropped.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn platform(p: &Option<String>) -> Result<Platform> {
    p.as_deref().map(Platform::parse).unwrap_or_else(|| Ok(Platform::host()))
}

pub fn load(engine: &Engine, a: &LoadArgs) -> EResult<i32> {
    let (path, _guard) = match &a.input {
        Some(p) => (p.clone(), None),
        None => {
            let (p, g) = stdin_to_file(&engine.images, "an archive")?;
            (p, Some(g))
        }
    };
    let label = a.input.is_none().then_some("standard input");
    let loaded = engine.load_images(&path, label, &platform(&a.platform)?)?;
    if !a.quiet {
        for l in archive::describe(&loaded) {
            println!("{l}");
        }
    }
    Ok(0)
}

pub fn save(engine: &Engine, a: &SaveArgs) -> EResult<i32> {
    let format = match a.format {
        crate::cli::ArchiveFormat::DockerArchive => Format::DockerArchive,
        crate::cli::ArchiveFormat::OciArchive => Format::OciArchive,
    };
    match &a.output {
        None => {
            let stdout = std::io::stdout();
            if stdout.is_terminal() {
                return Err(hull_engine::Error::Invalid(
                    "cowardly refusing to save to a terminal. Use the -o flag or redirect".into(),
                ));
            }
            let mut w = std::io::BufWriter::new(stdout.lock());
            engine.save_images(&a.images, format, &mut w)?;
        }
        Some(p) => {
            // Written beside the target and renamed: never a half-written archive.
            let tmp = p.with_file_name(format!(
                ".{}.hull-{}",
                p.file_name().map(|f| f.to_string_lossy()).unwrap_or_default(),
                std::process::id()
            ));
            let guard = TempFile(tmp.clone());
            let f = std::fs::File::create(&tmp)
                .map_err(|e| Error::Io { what: format!("create {}", tmp.display()), source: e })?;
            let mut w = std::io::BufWriter::new(f);
            engine.save_images(&a.images, format, &mut w)?;
            let f = w
                .into_inner()
                .map_err(|e| Error::Io { what: format!("write {}", tmp.display()), source: e.into_error() })?;
            f.sync_all().map_err(|e| Error::Io { what: format!("fsync {}", tmp.display()), source: e })?;
            std::fs::rename(&tmp, p)
                .map_err(|e| Error::Io { what: format!("rename to {}", p.display()), source: e })?;
            std::mem::forget(guard);
        }
    }
    Ok(0)
}

pub fn import(engine: &Engine, a: &ImportArgs) -> EResult<i32> {
    let (path, _guard) = if a.source == "-" {
        let (p, g) = stdin_to_file(&engine.images, "a root filesystem")?;
        (p, Some(g))
    } else {
        (PathBuf::from(&a.source), None)
    };
    let id = engine.import_image(&path, a.reference.as_deref())?;
    println!("{id}");
    Ok(0)
}
