//! Container logs in Docker's json-file format: one JSON object per line,
//! `{"log":"…\n","stream":"stdout","time":"RFC 3339 nanos"}`, in `<id>-json.log`, rotated
//! to `.1`, `.2`, … by `--log-opt max-size`/`max-file` as Docker does. Output is cut
//! at newlines; a line longer than 16 KiB is split, its parts without a newline.

use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};

/// Docker's buffer: longer lines are logged in parts.
const MAX_LINE: usize = 16 * 1024;

/// One log line.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Entry {
    pub log: String,
    pub stream: String,
    pub time: String,
}

pub fn path_of(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{id}-json.log"))
}

/// Appends a container's output to its log.
pub struct Writer {
    path: PathBuf,
    /// None for the `none` log driver: output is discarded.
    file: Option<File>,
    size: u64,
    max_size: Option<u64>,
    max_file: u32,
    /// Unfinished lines of stdout and stderr.
    partial: [Vec<u8>; 2],
}

impl Writer {
    pub fn open(path: &Path, max_size: Option<u64>, max_file: u32) -> io::Result<Writer> {
        let file = File::options().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        Ok(Writer {
            path: path.to_owned(),
            file: Some(file),
            size,
            max_size,
            max_file: max_file.max(1),
            partial: [vec![], vec![]],
        })
    }

    /// A writer that keeps nothing (`--log-driver none`).
    pub fn discard() -> Writer {
        Writer { path: PathBuf::new(), file: None, size: 0, max_size: None, max_file: 1, partial: [vec![], vec![]] }
    }

    /// Logs `data` written to stream 1 (stdout) or 2 (stderr).
    pub fn write(&mut self, stream: u8, data: &[u8]) -> io::Result<()> {
        if self.file.is_none() {
            return Ok(());
        }
        let i = usize::from(stream == 2);
        let mut rest = data;
        while let Some(nl) = rest.iter().position(|b| *b == b'\n') {
            let mut line = std::mem::take(&mut self.partial[i]);
            line.extend_from_slice(&rest[..=nl]);
            rest = &rest[nl + 1..];
            for part in line.chunks(MAX_LINE) {
                self.entry(stream, part)?;
            }
        }
        self.partial[i].extend_from_slice(rest);
        while self.partial[i].len() >= MAX_LINE {
            let part: Vec<u8> = self.partial[i].drain(..MAX_LINE).collect();
            self.entry(stream, &part)?;
        }
        Ok(())
    }

    /// Logs what is left of unfinished lines (the container's streams ended).
    pub fn finish(&mut self) -> io::Result<()> {
        for stream in [1u8, 2] {
            let p = std::mem::take(&mut self.partial[usize::from(stream == 2)]);
            if !p.is_empty() {
                self.entry(stream, &p)?;
            }
        }
        Ok(())
    }

    fn entry(&mut self, stream: u8, bytes: &[u8]) -> io::Result<()> {
        let e = Entry {
            log: String::from_utf8_lossy(bytes).into_owned(),
            stream: if stream == 2 { "stderr" } else { "stdout" }.to_string(),
            time: crate::now(),
        };
        let mut line = serde_json::to_vec(&e).map_err(io::Error::other)?;
        line.push(b'\n');
        if self.max_size.is_some_and(|m| self.size > 0 && self.size + line.len() as u64 > m) {
            self.rotate()?;
        }
        if let Some(f) = self.file.as_mut() {
            f.write_all(&line)?;
        }
        self.size += line.len() as u64;
        Ok(())
    }

    fn rotate(&mut self) -> io::Result<()> {
        if self.max_file <= 1 {
            if let Some(f) = &self.file {
                f.set_len(0)?;
            }
        } else {
            for n in (1..self.max_file).rev() {
                let from = if n == 1 { self.path.clone() } else { rotated(&self.path, n - 1) };
                let _ = std::fs::rename(&from, rotated(&self.path, n));
            }
            self.file = Some(File::options().create(true).append(true).open(&self.path)?);
        }
        self.size = 0;
        Ok(())
    }
}

fn rotated(path: &Path, n: u32) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}

/// The log files, oldest first.
pub fn files(path: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = (1..1000).map(|n| rotated(path, n)).take_while(|p| p.exists()).collect();
    out.reverse();
    if path.exists() {
        out.push(path.to_owned());
    }
    out
}

/// Parses log lines; damaged lines are skipped.
pub fn parse(r: impl BufRead) -> impl Iterator<Item = Entry> {
    r.lines().map_while(|l| l.ok()).filter_map(|l| serde_json::from_str(&l).ok())
}

/// What `logs` reads (Docker's `GET /containers/{id}/logs` parameters).
#[derive(Debug, Clone, Default)]
pub struct LogsOptions {
    /// Keep reading while the container runs.
    pub follow: bool,
    pub since: Option<std::time::SystemTime>,
    pub until: Option<std::time::SystemTime>,
    /// Only the last N lines of what is there.
    pub tail: Option<usize>,
}

/// A container's log lines, oldest first; following, it blocks for new ones until the
/// container stops.
pub struct Reader<'a> {
    engine: &'a crate::Engine,
    id: String,
    path: PathBuf,
    since: Option<String>,
    until: Option<String>,
    /// What was there when the reader was made.
    backlog: std::collections::VecDeque<Entry>,
    /// Following: the current file, its inode and the offset read to.
    follow: Option<(Option<File>, Option<u64>, u64)>,
    ready: std::collections::VecDeque<Entry>,
}

impl crate::Engine {
    /// The log of container `id`. The `none` log driver keeps none: an error.
    pub fn logs(&self, id: &str, opts: &LogsOptions) -> crate::Result<Reader<'_>> {
        use std::io::Seek;
        if self.record(id)?.host.log_driver == "none" {
            return Err(crate::Error::Invalid("configured logging driver does not support reading".into()));
        }
        let path = path_of(&self.dir(id), id);
        let stamp = |t: &std::time::SystemTime| humantime::format_rfc3339_nanos(*t).to_string();
        let (since, until) = (opts.since.as_ref().map(stamp), opts.until.as_ref().map(stamp));
        let keep =
            |e: &Entry| since.as_ref().is_none_or(|s| &e.time >= s) && until.as_ref().is_none_or(|u| &e.time <= u);
        let mut backlog = std::collections::VecDeque::new();
        for f in files(&path) {
            if let Ok(file) = File::open(&f) {
                backlog.extend(parse(io::BufReader::new(file)).filter(|e| keep(e)));
            }
        }
        if let Some(n) = opts.tail {
            let skip = backlog.len().saturating_sub(n);
            backlog.drain(..skip);
        }
        // Following: the current file from its end; a rotation is seen as a new inode.
        let follow = opts.follow.then(|| {
            let mut file = File::open(&path).ok();
            let pos = file.as_mut().and_then(|f| f.seek(io::SeekFrom::End(0)).ok()).unwrap_or(0);
            let inode = file.as_ref().and_then(|f| f.metadata().ok()).map(|m| std::os::unix::fs::MetadataExt::ino(&m));
            (file, inode, pos)
        });
        Ok(Reader { engine: self, id: id.to_owned(), path, since, until, backlog, follow, ready: Default::default() })
    }
}

impl Reader<'_> {
    fn keep(&self, e: &Entry) -> bool {
        self.since.as_ref().is_none_or(|s| &e.time >= s) && self.until.as_ref().is_none_or(|u| &e.time <= u)
    }

    /// Reads what was appended to the followed file since the last call.
    fn poll(&mut self) -> io::Result<()> {
        use std::io::Seek;
        let Some((file, inode, pos)) = self.follow.as_mut() else { return Ok(()) };
        let mut got = Vec::new();
        if let Some(f) = file.as_mut() {
            f.seek(io::SeekFrom::Start(*pos))?;
            let mut r = io::BufReader::new(&*f);
            let mut line = String::new();
            while r.read_line(&mut line).unwrap_or(0) > 0 {
                if !line.ends_with('\n') {
                    // Half a line: read it whole next time.
                    break;
                }
                *pos += line.len() as u64;
                if let Ok(e) = serde_json::from_str::<Entry>(&line) {
                    got.push(e);
                }
                line.clear();
            }
        }
        let now_inode = std::fs::metadata(&self.path).ok().map(|m| std::os::unix::fs::MetadataExt::ino(&m));
        if now_inode != *inode {
            *file = File::open(&self.path).ok();
            *pos = 0;
            *inode = now_inode;
        }
        for e in got {
            if self.keep(&e) {
                self.ready.push_back(e);
            }
        }
        Ok(())
    }
}

impl Iterator for Reader<'_> {
    type Item = Entry;

    fn next(&mut self) -> Option<Entry> {
        if let Some(e) = self.backlog.pop_front() {
            return Some(e);
        }
        loop {
            if let Some(e) = self.ready.pop_front() {
                return Some(e);
            }
            self.follow.as_ref()?;
            let live = self.engine.container(&self.id).map(|c| c.status.is_live() || c.monitored).unwrap_or(false);
            let _ = self.poll();
            if self.ready.is_empty() {
                if !live {
                    // One more read for what the last moments wrote.
                    let _ = self.poll();
                    if self.ready.is_empty() {
                        self.follow = None;
                        return None;
                    }
                } else {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_partials_and_rotation() {
        let dir = std::env::temp_dir().join(format!("hull-logs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("x-json.log");
        let mut w = Writer::open(&p, Some(300), 3).unwrap();
        w.write(1, b"one\ntw").unwrap();
        w.write(2, b"err\n").unwrap();
        w.write(1, b"o\n").unwrap();
        let got: Vec<Entry> = parse(std::io::BufReader::new(File::open(&p).unwrap())).collect();
        assert_eq!(
            got.iter().map(|e| (e.log.as_str(), e.stream.as_str())).collect::<Vec<_>>(),
            [("one\n", "stdout"), ("err\n", "stderr"), ("two\n", "stdout")]
        );
        for i in 0..40 {
            w.write(1, format!("line {i}\n").as_bytes()).unwrap();
        }
        w.write(1, b"tail").unwrap();
        w.finish().unwrap();
        let fs = files(&p);
        assert_eq!(fs.len(), 3, "{fs:?}");
        assert!(fs.iter().all(|f| f.metadata().unwrap().len() <= 300));
        let all: Vec<Entry> = fs.iter().flat_map(|f| parse(std::io::BufReader::new(File::open(f).unwrap()))).collect();
        assert_eq!(all.last().unwrap().log, "tail");
        assert!(all.windows(2).all(|w| w[0].time <= w[1].time));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
