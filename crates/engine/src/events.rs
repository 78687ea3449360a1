//! The engine's event log: what happened to containers, images and volumes, written
//! by whichever process caused it (a command, a container's monitor) and read by
//! `hull events` and the API's `/events`, in the shape of Docker's event messages.
//!
//! The log is `events/events.log` under the store root, one JSON object a line,
//! appended with `O_APPEND` in a single `write` (a line is at most [`MAX_LINE`] bytes,
//! so concurrent writers never interleave). It is bounded as Podman's file log is: a
//! writer that finds it over [`MAX_SIZE`] moves it to `events.log.1` (replacing the
//! older one) under `events.lock`, so at most twice that is kept. A reader reads the
//! old file, then the current one, and a follower keeps reading the current one,
//! reopening it when it is rotated.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Size at which the log is rotated.
pub const MAX_SIZE: u64 = 1 << 20;
/// The longest line written: attributes are cut to fit.
pub const MAX_LINE: usize = 4000;

/// Docker's event message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// `container`, `image`, `volume`, `network`.
    #[serde(rename = "Type")]
    pub kind: String,
    /// `create`, `start`, `die`, `health_status: healthy`, `pull`, …
    #[serde(rename = "Action")]
    pub action: String,
    #[serde(rename = "Actor")]
    pub actor: Actor,
    pub scope: String,
    /// Seconds since the epoch.
    pub time: i64,
    #[serde(rename = "timeNano")]
    pub time_nano: i64,
    /// The old API's fields, which docker-compose v1 still reads.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub from: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Attributes")]
    pub attributes: BTreeMap<String, String>,
}

impl Event {
    /// An event of `kind` (container, image, volume) about `id`, now.
    pub fn new(kind: &str, action: &str, id: &str) -> Event {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i64);
        Event {
            kind: kind.into(),
            action: action.into(),
            actor: Actor { id: id.into(), attributes: BTreeMap::new() },
            scope: "local".into(),
            time: nanos / 1_000_000_000,
            time_nano: nanos,
            ..Default::default()
        }
    }

    /// Adds an attribute.
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Event {
        self.actor.attributes.insert(key.into(), value.into());
        self
    }

    /// The JSON line, attributes cut until it fits [`MAX_LINE`].
    fn line(&self) -> Vec<u8> {
        let mut e = self.clone();
        if e.kind == "container" {
            e.status = e.action.clone();
            e.id = e.actor.id.clone();
            e.from = e.actor.attributes.get("image").cloned().unwrap_or_default();
        }
        loop {
            let mut line = serde_json::to_vec(&e).unwrap_or_default();
            line.push(b'\n');
            if line.len() <= MAX_LINE {
                return line;
            }
            // The longest attribute goes first; then every field is cut short (an exec's
            // action holds its whole command line).
            let longest = e.actor.attributes.iter().max_by_key(|(_, v)| v.len()).map(|(k, _)| k.clone());
            match longest {
                Some(k) => {
                    e.actor.attributes.remove(&k);
                }
                None => {
                    for f in [&mut e.action, &mut e.status, &mut e.actor.id, &mut e.id, &mut e.from] {
                        cut(f, 100);
                    }
                }
            }
        }
    }
}

/// Cuts `s` to at most `n` characters (JSON may escape each into six bytes: five fields
/// of 100 stay under [`MAX_LINE`]).
fn cut(s: &mut String, n: usize) {
    if let Some((i, _)) = s.char_indices().nth(n) {
        s.truncate(i);
    }
}

/// The event log of a store.
#[derive(Debug, Clone)]
pub struct Log {
    dir: PathBuf,
}

impl Log {
    pub fn new(root: &Path) -> Log {
        Log { dir: root.join("events") }
    }

    fn current(&self) -> PathBuf {
        self.dir.join("events.log")
    }

    fn old(&self) -> PathBuf {
        self.dir.join("events.log.1")
    }

    /// Appends `event`. Failing to log never fails the operation that caused it:
    /// the error is returned for callers that care (tests).
    pub fn emit(&self, event: &Event) -> Result<()> {
        let line = event.line();
        let path = self.current();
        let mut f = match open_append(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(&self.dir).map_err(Error::at(format!("create {}", self.dir.display())))?;
                open_append(&path).map_err(Error::at(format!("open {}", path.display())))?
            }
            Err(e) => return Err(Error::io(format!("open {}", path.display()), e)),
        };
        f.write_all(&line).map_err(Error::at(format!("write {}", path.display())))?;
        if f.metadata().map(|m| m.len()).unwrap_or(0) > MAX_SIZE {
            self.rotate()?;
        }
        Ok(())
    }

    /// Moves a full log aside (once, whoever of several writers gets the lock first).
    fn rotate(&self) -> Result<()> {
        let _held = crate::lock_file(&self.dir.join("events.lock"))?;
        let full = std::fs::metadata(self.current()).map(|m| m.len() > MAX_SIZE).unwrap_or(false);
        if full {
            std::fs::rename(self.current(), self.old()).map_err(Error::at(format!("rotate {}", self.dir.display())))?;
        }
        Ok(())
    }

    /// Events from `since` (nanoseconds since the epoch; None: the start of the log)
    /// to `until` (None: the end of the log as it is now, or with `follow` for ever)
    /// that pass `filter`, oldest first. The iterator blocks while following.
    pub fn read(&self, since: Option<i64>, until: Option<i64>, follow: bool, filter: Filter) -> Reader {
        Reader {
            log: self.clone(),
            since_nanos: since,
            until_nanos: until,
            follow: follow && until.is_none(),
            filter,
            old_done: false,
            done: false,
            file: None,
            pending: Vec::new(),
            poll: Duration::from_millis(50),
        }
    }
}

fn open_append(path: &Path) -> std::io::Result<File> {
    File::options().append(true).create(true).mode(0o600).open(path)
}

/// A reader of the log: an iterator of events (see [`Log::read`]).
pub struct Reader {
    log: Log,
    since_nanos: Option<i64>,
    until_nanos: Option<i64>,
    follow: bool,
    filter: Filter,
    old_done: bool,
    /// Past `until`.
    done: bool,
    /// The current log open for reading: the reader, its inode, and the offset read to.
    file: Option<(BufReader<File>, u64, u64)>,
    pending: Vec<u8>,
    /// How often a follower looks for new events.
    poll: Duration,
}

impl Reader {
    /// A follower that looks every `d` (50 ms by default): a waiter for one
    /// container's exit wants it sooner.
    pub fn poll_every(mut self, d: Duration) -> Reader {
        self.poll = d;
        self
    }

    /// The next event, or None at the end (never while following without `until`).
    /// With `deadline`, a follower returns None when it passes.
    pub fn next_before(&mut self, deadline: Option<Instant>) -> Option<Event> {
        while !self.done {
            if !self.old_done {
                // The old file whole, then the current one.
                if self.file.is_none() {
                    match File::open(self.log.old()) {
                        Ok(f) => self.file = Some((BufReader::new(f), 0, 0)),
                        Err(_) => {
                            self.old_done = true;
                            continue;
                        }
                    }
                }
                if let Some(e) = self.drain(true) {
                    return Some(e);
                }
                self.file = None;
                self.old_done = true;
                continue;
            }
            if self.file.is_none() {
                if let Ok(f) = File::open(self.log.current()) {
                    let ino = f.metadata().map(|m| m.ino()).unwrap_or(0);
                    self.file = Some((BufReader::new(f), ino, 0));
                }
            }
            if let Some(e) = self.drain(false) {
                return Some(e);
            }
            if self.done || !self.follow {
                return None;
            }
            // At the end: rotated away? Then what was written to it after our last
            // read, and the new file from its start.
            let ino_now = std::fs::metadata(self.log.current()).map(|m| m.ino()).ok();
            if let Some((_, ino, _)) = &self.file {
                if ino_now != Some(*ino) {
                    if let Some(e) = self.drain(false) {
                        return Some(e);
                    }
                    self.file = None;
                    continue;
                }
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return None;
            }
            std::thread::sleep(self.poll);
        }
        None
    }

    /// The next matching event in the open file, if any before its end. `whole`: the
    /// old file, read to its end and left.
    fn drain(&mut self, whole: bool) -> Option<Event> {
        loop {
            let (reader, _, offset) = self.file.as_mut()?;
            let mut buf = std::mem::take(&mut self.pending);
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => {
                    self.pending = buf;
                    if !whole {
                        // Back to where the last whole line ended, for the next poll.
                        let _ = reader.seek(SeekFrom::Start(*offset));
                        self.pending.clear();
                    }
                    return None;
                }
                Ok(_) if !buf.ends_with(b"\n") => {
                    // A line being written: read again later.
                    if !whole {
                        let _ = reader.seek(SeekFrom::Start(*offset));
                    }
                    return None;
                }
                Ok(n) => {
                    *offset += n as u64;
                    let Ok(e) = serde_json::from_slice::<Event>(&buf) else { continue };
                    if self.since_nanos.is_some_and(|s| e.time_nano < s) {
                        continue;
                    }
                    if self.until_nanos.is_some_and(|u| e.time_nano > u) {
                        // Later events cannot come earlier: done.
                        self.done = true;
                        return None;
                    }
                    if self.filter.matches(&e) {
                        return Some(e);
                    }
                }
            }
        }
    }
}

impl Iterator for Reader {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        self.next_before(None)
    }
}

/// Docker's event filters: `type`, `event`, `container`, `image`, `volume`, `label`
/// (`KEY` or `KEY=VALUE`); values of one key are alternatives, keys all must match.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub by: BTreeMap<String, Vec<String>>,
}

impl Filter {
    /// Parses `KEY=VALUE` filters.
    pub fn parse(filters: &[String]) -> Result<Filter> {
        let mut by: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for f in filters {
            let (k, v) = f
                .split_once('=')
                .ok_or_else(|| Error::Invalid(format!("bad format of filter (expected name=value): {f}")))?;
            match k {
                "type" | "event" | "container" | "image" | "volume" | "label" | "network" => {
                    by.entry(k.to_owned()).or_default().push(v.to_owned())
                }
                _ => return Err(Error::Invalid(format!("invalid filter '{k}'"))),
            }
        }
        Ok(Filter { by })
    }

    pub fn matches(&self, e: &Event) -> bool {
        let attr = |k: &str| e.actor.attributes.get(k).map(String::as_str);
        self.by.iter().all(|(k, values)| {
            values.iter().any(|v| match k.as_str() {
                "type" => e.kind == *v,
                // `health_status` matches `health_status: healthy`, as Docker's.
                "event" => e.action == *v || e.action.split(':').next() == Some(v.as_str()),
                "container" => {
                    e.kind == "container" && (e.actor.id.starts_with(v.as_str()) || attr("name") == Some(v.as_str()))
                }
                "image" => {
                    (e.kind == "image" && (e.actor.id == *v || attr("name") == Some(v.as_str())))
                        || attr("image") == Some(v.as_str())
                }
                "volume" => e.kind == "volume" && e.actor.id == *v,
                "network" => e.kind == "network" && (e.actor.id == *v || attr("name") == Some(v.as_str())),
                "label" => match v.split_once('=') {
                    Some((lk, lv)) => attr(lk) == Some(lv),
                    None => attr(v).is_some(),
                },
                _ => false,
            })
        })
    }
}

/// A time for `--since`/`--until` as Docker's, in nanoseconds since the epoch:
/// seconds since the epoch (with a fraction), an RFC 3339 time, or a duration back
/// from now (`10m`, `1h30m`).
pub fn parse_time(s: &str, now: SystemTime) -> Result<i64> {
    let bad = || Error::Invalid(format!("invalid time {s:?}: a timestamp, an RFC 3339 time or a duration"));
    let nanos = |t: SystemTime| t.duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as i64).map_err(|_| bad());
    if let Ok(f) = s.parse::<f64>() {
        return Ok((f * 1e9) as i64);
    }
    if let Ok(t) = humantime::parse_rfc3339_weak(s) {
        return nanos(t);
    }
    match crate::units::duration(s) {
        Some(ns) => Ok(nanos(now)? - ns as i64),
        None => Err(bad()),
    }
}

/// Now, in nanoseconds since the epoch.
pub fn now_nanos() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i64)
}

/// Reads nothing but checks the log is readable (for `hull events` to fail early).
pub fn check_readable(root: &Path) -> Result<()> {
    let p = Log::new(root).current();
    match File::open(&p) {
        Ok(mut f) => f.read(&mut [0u8; 1]).map(drop).map_err(Error::at(format!("read {}", p.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(format!("open {}", p.display()), e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp() -> PathBuf {
        let d = std::env::temp_dir().join(format!("hull-events-{}-{}", std::process::id(), crate::new_id().unwrap()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn written_read_filtered_and_bounded() {
        let root = tmp();
        let log = Log::new(&root);
        log.emit(&Event::new("container", "create", "abc").with("name", "web").with("image", "busybox")).unwrap();
        log.emit(&Event::new("container", "start", "abc").with("name", "web")).unwrap();
        log.emit(&Event::new("volume", "create", "v1")).unwrap();
        log.emit(&Event::new("container", "health_status: healthy", "abc")).unwrap();
        let all: Vec<Event> = log.read(None, None, false, Filter::default()).collect();
        assert_eq!(all.len(), 4);
        assert_eq!(all[0].status, "create");
        let only = |f: &[&str]| {
            let f = Filter::parse(&f.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
            log.read(None, None, false, f).map(|e| e.action).collect::<Vec<_>>()
        };
        assert_eq!(only(&["type=volume"]), ["create"]);
        assert_eq!(only(&["container=web", "event=start"]), ["start"]);
        assert_eq!(only(&["event=health_status"]), ["health_status: healthy"]);
        assert_eq!(only(&["image=busybox"]), ["create"]);
        assert_eq!(only(&["event=start", "event=create", "type=container"]), ["create", "start"]);
        assert!(Filter::parse(&["bogus=1".into()]).is_err());
        // A long attribute is cut, the event kept.
        log.emit(&Event::new("container", "die", "abc").with("exitCode", "0").with("x", "y".repeat(10_000))).unwrap();
        let last = log.read(None, None, false, Filter::default()).last().unwrap();
        assert_eq!(
            (last.action.as_str(), last.actor.attributes.get("exitCode").map(String::as_str)),
            ("die", Some("0"))
        );
        // Bounded: about twice MAX_SIZE at most, the newest kept.
        let big = "z".repeat(3000);
        for i in 0..800 {
            log.emit(&Event::new("container", "exec_start", &i.to_string()).with("cmd", big.as_str())).unwrap();
        }
        let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        assert!(size(&log.current()) + size(&log.old()) <= 2 * MAX_SIZE + MAX_LINE as u64);
        let ids: Vec<String> = log.read(None, None, false, Filter::default()).map(|e| e.actor.id).collect();
        assert_eq!(ids.last().map(String::as_str), Some("799"));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_follower_sees_what_another_writer_appends() {
        let root = tmp();
        let log = Log::new(&root);
        log.emit(&Event::new("container", "create", "one")).unwrap();
        let writer = log.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            writer.emit(&Event::new("container", "start", "one")).unwrap();
        });
        let mut r = log.read(None, None, true, Filter::default());
        let deadline = Some(Instant::now() + Duration::from_secs(10));
        assert_eq!(r.next_before(deadline).unwrap().action, "create");
        assert_eq!(r.next_before(deadline).unwrap().action, "start");
        t.join().unwrap();
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn times_as_docker() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let s = 1_000_000_000;
        assert_eq!(parse_time("999000", now).unwrap(), 999_000 * s);
        assert_eq!(parse_time("999000.5", now).unwrap(), 999_000 * s + s / 2);
        assert_eq!(parse_time("10m", now).unwrap(), (1_000_000 - 600) * s);
        assert_eq!(parse_time("1970-01-02T00:00:00Z", now).unwrap(), 86_400 * s);
        assert!(parse_time("yesterday", now).is_err());
    }
}
