//! The attach protocol between a container's monitor and the commands attached to it
//! (`run` in the foreground, `attach`, `start -a`): frames of one kind byte, a
//! little-endian u32 length and the payload, both ways over a Unix stream socket
//! (`attach.sock` in the container's directory, or a socketpair inherited by a new
//! monitor so nothing the container writes first is missed).

use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

/// Client → monitor: bytes for the container's stdin.
pub const STDIN: u8 = 0;
/// Monitor → client: output.
pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;
/// Monitor → client: the container exited; payload is the status as text.
pub const EXIT: u8 = 3;
/// Monitor → client: the container could not start; payload is [`start_error`]'s.
pub const ERROR: u8 = 4;
/// Monitor → client: the container's command is running.
pub const STARTED: u8 = 5;
/// Client → monitor: the client's stdin ended.
pub const CLOSE_STDIN: u8 = 6;
/// Client → monitor: terminal size, rows and columns as two little-endian u16.
pub const RESIZE: u8 = 7;
/// Client → monitor: join the network the payload names (`network connect`; the
/// record names it already).
pub const CONNECT: u8 = 8;
/// Client → monitor: leave the network the payload names (`network disconnect`).
pub const DISCONNECT: u8 = 9;
/// Monitor → client: a CONNECT or DISCONNECT is done; the payload is empty, or the
/// error.
pub const DONE: u8 = 10;

/// An ERROR frame's payload: the exit status `hull run` gives for the failure (125,
/// or 126/127 when the command cannot run) as a little-endian i32, then the message.
pub fn start_error(status: i32, msg: &str) -> Vec<u8> {
    let mut p = status.to_le_bytes().to_vec();
    p.extend_from_slice(msg.as_bytes());
    p
}

/// An ERROR frame's status and message.
pub fn parse_start_error(payload: &[u8]) -> (i32, String) {
    match payload.split_first_chunk::<4>() {
        Some((status, msg)) => (i32::from_le_bytes(*status), String::from_utf8_lossy(msg).into_owned()),
        None => (125, String::from_utf8_lossy(payload).into_owned()),
    }
}

/// Frames larger than this are a protocol error.
const MAX_FRAME: usize = 1 << 20;

pub fn write_frame(w: &mut impl Write, kind: u8, payload: &[u8]) -> io::Result<()> {
    let mut head = [0u8; 5];
    head[0] = kind;
    head[1..].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    // One write when small, so frames from one writer never interleave.
    if payload.len() <= 4096 {
        let mut b = Vec::with_capacity(5 + payload.len());
        b.extend_from_slice(&head);
        b.extend_from_slice(payload);
        w.write_all(&b)
    } else {
        w.write_all(&head)?;
        w.write_all(payload)
    }
}

/// Reads one frame, blocking; None at end of stream.
pub fn read_frame(r: &mut impl Read) -> io::Result<Option<(u8, Vec<u8>)>> {
    let mut head = [0u8; 5];
    match r.read_exact(&mut head) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_le_bytes([head[1], head[2], head[3], head[4]]) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "attach frame too large"));
    }
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload)?;
    Ok(Some((head[0], payload)))
}

/// Takes the complete frames out of `buf` (bytes read so far); Err on a bad frame.
pub fn take_frames(buf: &mut Vec<u8>) -> io::Result<Vec<(u8, Vec<u8>)>> {
    let mut out = Vec::new();
    let mut at = 0;
    while buf.len() - at >= 5 {
        let len = u32::from_le_bytes([buf[at + 1], buf[at + 2], buf[at + 3], buf[at + 4]]) as usize;
        if len > MAX_FRAME {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "attach frame too large"));
        }
        if buf.len() - at - 5 < len {
            break;
        }
        out.push((buf[at], buf[at + 5..at + 5 + len].to_vec()));
        at += 5 + len;
    }
    buf.drain(..at);
    Ok(out)
}

/// `dir/attach.sock` through a descriptor of `dir`: socket paths are limited to 108
/// bytes, container directories are not.
fn via_fd<T>(dir: &Path, f: impl FnOnce(&Path) -> io::Result<T>) -> io::Result<T> {
    let d = std::fs::File::open(dir)?;
    let p = format!("/proc/self/fd/{}/attach.sock", d.as_raw_fd());
    f(Path::new(&p))
}

pub fn bind(dir: &Path) -> io::Result<UnixListener> {
    let _ = std::fs::remove_file(dir.join("attach.sock"));
    via_fd(dir, |p| UnixListener::bind(p))
}

pub fn connect(dir: &Path) -> io::Result<UnixStream> {
    via_fd(dir, |p| UnixStream::connect(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_split() {
        let mut b = Vec::new();
        write_frame(&mut b, STDOUT, b"hello").unwrap();
        write_frame(&mut b, EXIT, b"3").unwrap();
        write_frame(&mut b, STDERR, &vec![7u8; 5000]).unwrap();
        let whole = b.clone();
        let mut partial = whole[..8].to_vec();
        assert_eq!(take_frames(&mut partial).unwrap(), vec![]);
        partial.extend_from_slice(&whole[8..]);
        let f = take_frames(&mut partial).unwrap();
        assert_eq!(f.len(), 3);
        assert_eq!(f[0], (STDOUT, b"hello".to_vec()));
        assert_eq!(f[2].1.len(), 5000);
        assert!(partial.is_empty());
        let mut r = &whole[..];
        assert_eq!(read_frame(&mut r).unwrap().unwrap().0, STDOUT);
        let mut huge = vec![STDIN, 0xff, 0xff, 0xff, 0x7f];
        assert!(take_frames(&mut huge).is_err());
    }
}
