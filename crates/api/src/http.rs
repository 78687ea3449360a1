//! The HTTP/1.1 of the Docker Engine API, by hand over a blocking Unix stream: requests
//! parsed with `httparse` (bodies by Content-Length or chunked), responses with a
//! fixed-length body or chunked streams (logs, events, progress), and the hijacked
//! connection of attach and exec (the HTTP exchange ends and the socket carries the
//! container's streams both ways). A general HTTP server crate (hyper) would bring an
//! async runtime for what is a thread per connection here, and none of the blocking
//! ones lets a handler take the socket over as attach needs.

use percent_encoding::percent_decode_str;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;

/// Request heads larger than this are refused.
const MAX_HEAD: usize = 64 * 1024;
/// Bodies larger than this are refused (image archives come in streamed endpoints).
pub const MAX_BODY: usize = 64 * 1024 * 1024;

/// One request, its body read.
#[derive(Debug, Default)]
pub struct Request {
    pub method: String,
    /// The path, percent-decoded, without the query.
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// Query parameter `k` (the last, as Go's url.Values.Get returns the first: Docker's
    /// clients never repeat one).
    pub fn query(&self, k: &str) -> Option<&str> {
        self.query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }

    /// A boolean query parameter as Docker reads one: set and not `0`/`false`/`no`.
    pub fn flag(&self, k: &str) -> bool {
        self.query(k).is_some_and(|v| !matches!(v.to_ascii_lowercase().as_str(), "" | "0" | "false" | "no"))
    }

    pub fn header(&self, k: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(k)).map(|(_, v)| v.as_str())
    }

    /// Whether the client asked to keep the connection after this exchange.
    pub fn keep_alive(&self) -> bool {
        !self.header("connection").is_some_and(|c| c.eq_ignore_ascii_case("close"))
    }
}

/// Reads the next request from `r`; None when the client closed the connection
/// between requests.
pub fn read_request(r: &mut BufReader<UnixStream>) -> io::Result<Option<Request>> {
    let mut head = Vec::new();
    loop {
        let n = r.read_until(b'\n', &mut head)?;
        if n == 0 {
            return if head.is_empty() { Ok(None) } else { Err(bad("the request ended inside its head")) };
        }
        if head.len() > MAX_HEAD {
            return Err(bad("the request head is too large"));
        }
        if head.ends_with(b"\r\n\r\n") || head.ends_with(b"\n\n") || head == b"\r\n" {
            if head == b"\r\n" {
                // A stray blank line between requests.
                head.clear();
                continue;
            }
            break;
        }
    }
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(&head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(bad("incomplete request head")),
        Err(e) => return Err(bad(&format!("bad request: {e}"))),
    }
    let target = req.path.unwrap_or("/");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut out = Request {
        method: req.method.unwrap_or("GET").to_owned(),
        path: percent_decode_str(path).decode_utf8_lossy().into_owned(),
        query: parse_query(query),
        headers: req
            .headers
            .iter()
            .map(|h| (h.name.to_owned(), String::from_utf8_lossy(h.value).into_owned()))
            .collect(),
        body: Vec::new(),
    };
    if out.header("transfer-encoding").is_some_and(|t| t.eq_ignore_ascii_case("chunked")) {
        out.body = read_chunked(r)?;
    } else if let Some(len) = out.header("content-length") {
        let len: usize = len.trim().parse().map_err(|_| bad("bad Content-Length"))?;
        if len > MAX_BODY {
            return Err(bad("the request body is too large"));
        }
        out.body = vec![0u8; len];
        r.read_exact(&mut out.body)?;
    }
    Ok(Some(out))
}

fn read_chunked(r: &mut BufReader<UnixStream>) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut line = String::new();
        r.read_line(&mut line)?;
        let size = line.trim().split(';').next().unwrap_or("");
        let size = usize::from_str_radix(size, 16).map_err(|_| bad("bad chunk size"))?;
        if size == 0 {
            // Trailers, then the blank line.
            loop {
                line.clear();
                if r.read_line(&mut line)? == 0 || line.trim().is_empty() {
                    return Ok(body);
                }
            }
        }
        if body.len() + size > MAX_BODY {
            return Err(bad("the request body is too large"));
        }
        let at = body.len();
        body.resize(at + size, 0);
        r.read_exact(&mut body[at..])?;
        line.clear();
        r.read_line(&mut line)?;
    }
}

/// `a=1&b=x%20y` as pairs, decoded (`+` is a space, as in forms).
pub fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let dec = |s: &str| percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned();
            (dec(k), dec(v))
        })
        .collect()
}

fn bad(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_owned())
}

/// A whole response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    pub headers: Vec<(String, String)>,
}

impl Response {
    pub fn json<T: serde::Serialize>(status: u16, v: &T) -> Response {
        let mut body = serde_json::to_vec(v).unwrap_or_default();
        body.push(b'\n');
        Response { status, content_type: "application/json", body, headers: Vec::new() }
    }

    pub fn empty(status: u16) -> Response {
        Response { status, content_type: "text/plain; charset=utf-8", body: Vec::new(), headers: Vec::new() }
    }

    pub fn text(status: u16, text: &str) -> Response {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body: text.as_bytes().to_vec(),
            headers: Vec::new(),
        }
    }

    /// Docker's error body: `{"message": "..."}`.
    pub fn error(status: u16, msg: &str) -> Response {
        Response::json(status, &serde_json::json!({ "message": msg }))
    }
}

pub fn reason(status: u16) -> &'static str {
    match status {
        101 => "UPGRADED",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        _ => "",
    }
}

/// The headers every response carries (`extra` are the server's own: API version,
/// OS type).
fn head(status: u16, content_type: &str, extra: &[(String, String)]) -> String {
    let mut h = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (k, v) in extra {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    if status != 204 && status != 304 {
        h.push_str(&format!("Content-Type: {content_type}\r\n"));
    }
    h
}

/// Writes `r` whole.
pub fn write_response(w: &mut impl Write, r: &Response, server: &[(String, String)], keep: bool) -> io::Result<()> {
    let mut h = head(r.status, r.content_type, server);
    for (k, v) in &r.headers {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    if r.status != 204 && r.status != 304 {
        h.push_str(&format!("Content-Length: {}\r\n", r.body.len()));
    }
    if !keep {
        h.push_str("Connection: close\r\n");
    }
    h.push_str("\r\n");
    let mut out = h.into_bytes();
    out.extend_from_slice(&r.body);
    w.write_all(&out)?;
    w.flush()
}

/// A chunked response in progress (logs, events, pull progress): each write is a chunk.
pub struct Chunked<'a> {
    w: &'a mut UnixStream,
}

impl<'a> Chunked<'a> {
    pub fn start(
        w: &'a mut UnixStream,
        status: u16,
        content_type: &str,
        server: &[(String, String)],
    ) -> io::Result<Self> {
        let mut h = head(status, content_type, server);
        // The connection ends with the stream: a client must not send its next request
        // on it (one sent while the stream ends would meet a closed socket).
        h.push_str("Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
        w.write_all(h.as_bytes())?;
        Ok(Chunked { w })
    }

    pub fn send(&mut self, data: &[u8]) -> io::Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        let mut c = format!("{:x}\r\n", data.len()).into_bytes();
        c.extend_from_slice(data);
        c.extend_from_slice(b"\r\n");
        self.w.write_all(&c)
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }

    pub fn finish(self) -> io::Result<()> {
        self.w.write_all(b"0\r\n\r\n")
    }
}

impl Write for Chunked<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.send(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }
}

/// Takes the connection over for a raw stream (attach, exec start): `101 UPGRADED` when
/// the client asked for an upgrade (`Upgrade: tcp`, the docker CLI), else `200 OK`
/// with the raw-stream type, as dockerd answers.
pub fn hijack(w: &mut UnixStream, req: &Request, tty: bool, server: &[(String, String)]) -> io::Result<()> {
    let kind = if tty { "application/vnd.docker.raw-stream" } else { "application/vnd.docker.multiplexed-stream" };
    let upgrade = req.header("upgrade").is_some();
    let mut h = head(if upgrade { 101 } else { 200 }, kind, server);
    if upgrade {
        h.push_str("Connection: Upgrade\r\nUpgrade: tcp\r\n");
    }
    h.push_str("\r\n");
    w.write_all(h.as_bytes())?;
    w.flush()
}

/// Docker's multiplexed stream (no TTY): each piece of output framed by stream (1 out,
/// 2 err), three zero bytes and the big-endian length.
pub fn stdcopy_frame(stream: u8, data: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(8 + data.len());
    f.extend_from_slice(&[stream, 0, 0, 0]);
    f.extend_from_slice(&(data.len() as u32).to_be_bytes());
    f.extend_from_slice(data);
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &[u8]) -> Request {
        let (mut a, mut b) = UnixStream::pair().unwrap();
        b.write_all(raw).unwrap();
        drop(b);
        let mut r = BufReader::new(a.try_clone().unwrap());
        let req = read_request(&mut r).unwrap().unwrap();
        let _ = a.flush();
        req
    }

    #[test]
    fn requests_with_queries_and_bodies() {
        let r = parse(
            b"POST /v1.41/containers/create?name=web%201&x=a+b HTTP/1.1\r\nHost: docker\r\nContent-Length: 2\r\n\r\n{}",
        );
        assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/v1.41/containers/create"));
        assert_eq!((r.query("name"), r.query("x")), (Some("web 1"), Some("a b")));
        assert_eq!(r.body, b"{}");
        assert!(r.keep_alive());
        let r = parse(b"POST /build HTTP/1.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n");
        assert_eq!(r.body, b"abcde");
        assert!(!r.keep_alive());
        let flags = Request { query: parse_query("a=1&b=false&c=0&d=true&e="), ..Default::default() };
        assert!(flags.flag("a") && !flags.flag("b") && !flags.flag("c") && flags.flag("d") && !flags.flag("e"));
    }

    #[test]
    fn frames_and_responses() {
        assert_eq!(stdcopy_frame(2, b"hi"), [2, 0, 0, 0, 0, 0, 0, 2, b'h', b'i']);
        let mut out = Vec::new();
        write_response(&mut out, &Response::error(404, "No such container: x"), &[], true).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with("HTTP/1.1 404 Not Found\r\n")
                && text.ends_with("{\"message\":\"No such container: x\"}\n")
        );
        assert!(text.contains("Content-Length: 35\r\n"), "{text}");
    }
}
