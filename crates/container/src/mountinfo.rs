//! `/proc/self/mountinfo`: which mount a path is on, and its propagation.

use std::path::{Path, PathBuf};

/// One line of mountinfo, the fields hull reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub mount_point: PathBuf,
    /// The optional fields: `shared:N`, `master:N`, `propagate_from:N`, `unbindable`.
    pub optional: Vec<String>,
}

impl Mount {
    pub fn shared(&self) -> bool {
        self.optional.iter().any(|o| o.starts_with("shared:"))
    }

    pub fn slave(&self) -> bool {
        self.optional.iter().any(|o| o.starts_with("master:"))
    }
}

/// A mountinfo path with its octal escapes (space, tab, newline, backslash as `\ooo`)
/// undone.
pub fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The mount `path` (absolute, symlinks resolved) is on, from mountinfo `text`: the
/// last one listed at the longest mount point above it (the one on top).
pub fn mount_of(text: &str, path: &Path) -> Option<Mount> {
    let mut best: Option<Mount> = None;
    for line in text.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let Some(point) = fields.get(4).map(|p| PathBuf::from(unescape(p))) else { continue };
        if !path.starts_with(&point) {
            continue;
        }
        if best.as_ref().is_some_and(|b| b.mount_point.as_os_str().len() > point.as_os_str().len()) {
            continue;
        }
        let optional = fields.iter().skip(6).take_while(|f| **f != "-").map(|f| f.to_string()).collect();
        best = Some(Mount { mount_point: point, optional });
    }
    best
}

/// [`mount_of`] in this process's mount namespace.
pub fn mount_of_path(path: &Path) -> std::io::Result<Option<Mount>> {
    Ok(mount_of(&std::fs::read_to_string("/proc/self/mountinfo")?, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &str = "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n\
        45 27 254:0 /tmp/d /tmp/d rw,relatime shared:1 - ext4 /dev/vda rw\n\
        46 27 0:50 / /tmp/a\\040b rw master:3 - tmpfs t rw\n\
        47 45 0:51 / /tmp/d rw shared:9 master:1 - tmpfs t rw\n";

    #[test]
    fn the_mount_on_top_of_the_longest_mount_point() {
        let m = mount_of(INFO, Path::new("/tmp/d/x")).unwrap();
        assert_eq!(m.mount_point, Path::new("/tmp/d"));
        assert_eq!(m.optional, vec!["shared:9", "master:1"], "the later mount at the same point is on top");
        assert!(m.shared() && m.slave());
        let m = mount_of(INFO, Path::new("/tmp/a b/c")).unwrap();
        assert_eq!(m.mount_point, Path::new("/tmp/a b"));
        assert!(!m.shared() && m.slave());
        let m = mount_of(INFO, Path::new("/tmp/dd")).unwrap();
        assert_eq!(m.mount_point, Path::new("/"), "components, not string prefixes");
        assert!(m.optional.is_empty());
    }
}
