//! Packing a directory into a tar layer (`hull import` of a directory; later `hull
//! commit` and `export`): sorted names for reproducible output, numeric owners, modes
//! and times kept, hardlinks written once and linked (the tar crate's `append_dir_all`
//! copies them twice), symlinks as links, devices and fifos as nodes, never following
//! a symlink.

use crate::error::{io, Result};
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

/// Writes the contents of `dir` as an uncompressed tar stream (with end blocks).
pub fn pack_dir(dir: &Path, out: &mut dyn Write) -> Result<()> {
    let mut b = tar::Builder::new(out);
    let mut links = std::collections::HashMap::new();
    walk(&mut b, dir, Path::new(""), &mut links)?;
    b.into_inner().map_err(io(format!("pack {}", dir.display())))?;
    Ok(())
}

fn walk(
    b: &mut tar::Builder<&mut dyn Write>,
    root: &Path,
    rel: &Path,
    links: &mut std::collections::HashMap<(u64, u64), std::path::PathBuf>,
) -> Result<()> {
    let dir = root.join(rel);
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .map_err(io(format!("list {}", dir.display())))?
        .flatten()
        .map(|e| e.file_name())
        .collect();
    names.sort();
    for name in names {
        let rel_path = rel.join(&name);
        let full = root.join(&rel_path);
        let m = std::fs::symlink_metadata(&full).map_err(io(format!("stat {}", full.display())))?;
        let ft = m.file_type();
        let mut h = tar::Header::new_gnu();
        h.set_mode(m.mode() & 0o7777);
        h.set_uid(m.uid().into());
        h.set_gid(m.gid().into());
        h.set_mtime(m.mtime().max(0) as u64);
        h.set_size(0);
        let werr = io(format!("pack {}", full.display()));
        if ft.is_dir() {
            h.set_entry_type(tar::EntryType::Directory);
            b.append_data(&mut h, &rel_path, std::io::empty()).map_err(werr)?;
            walk(b, root, &rel_path, links)?;
        } else if ft.is_symlink() {
            let target = std::fs::read_link(&full).map_err(io(format!("readlink {}", full.display())))?;
            h.set_entry_type(tar::EntryType::Symlink);
            b.append_link(&mut h, &rel_path, &target).map_err(werr)?;
        } else if ft.is_file() {
            if m.nlink() > 1 {
                if let Some(first) = links.get(&(m.dev(), m.ino())) {
                    h.set_entry_type(tar::EntryType::Link);
                    b.append_link(&mut h, &rel_path, first).map_err(werr)?;
                    continue;
                }
                links.insert((m.dev(), m.ino()), rel_path.clone());
            }
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(m.len());
            let f = std::fs::File::open(&full).map_err(io(format!("open {}", full.display())))?;
            b.append_data(&mut h, &rel_path, f).map_err(werr)?;
        } else {
            let kind = if ft.is_char_device() {
                tar::EntryType::Char
            } else if ft.is_block_device() {
                tar::EntryType::Block
            } else if ft.is_fifo() {
                tar::EntryType::Fifo
            } else {
                continue; // sockets are not packed, as tar does
            };
            h.set_entry_type(kind);
            let rdev = m.rdev();
            let _ = h.set_device_major(nix::sys::stat::major(rdev) as u32);
            let _ = h.set_device_minor(nix::sys::stat::minor(rdev) as u32);
            b.append_data(&mut h, &rel_path, std::io::empty()).map_err(werr)?;
        }
    }
    Ok(())
}
