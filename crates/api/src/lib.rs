//! hull-api: the Docker Engine API, so that the `docker` CLI, docker-compose and the
//! Docker SDKs drive hull (Podman's `system service`, for hull's engine).
//!
//! [`serve`] answers on a Unix socket, a thread per connection, each request mapped
//! onto hull-engine's typed operations. The server holds no container state of its
//! own: containers run under their monitors whether it runs or not, and the `hull`
//! command line works on the same store beside it. The only thing it keeps in memory is
//! an attach that waits for its container's start (the docker CLI attaches before it
//! starts), for as long as both requests last.
//!
//! Modules: [`http`] (the wire: requests, responses, chunked streams, hijacking),
//! [`routes`] (the endpoints, by kind).

pub mod http;
pub mod routes;

use hull_engine::Engine;
use std::collections::HashMap;
use std::io::BufReader;
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// The newest API version served (Docker 20.10's), and the oldest.
pub const API_VERSION: &str = "1.41";
pub const MIN_API_VERSION: &str = "1.24";

/// The server's shared parts.
pub struct Server {
    pub engine: Engine,
    /// Attaches waiting for their container's start: the start hands each the
    /// connection to the container's monitor.
    pending: Mutex<HashMap<String, Vec<mpsc::Sender<UnixStream>>>>,
    /// Connections open, and when the last one closed (for `--time`).
    active: AtomicUsize,
    idle_since: Mutex<Instant>,
    /// Each request named on stderr (`HULL_API_TRACE=1`).
    trace: bool,
}

fn query_text(r: &http::Request) -> String {
    let q: Vec<String> = r.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
    if q.is_empty() {
        String::new()
    } else {
        format!("?{}", q.join("&"))
    }
}

/// What a handler did with its request.
pub enum Outcome {
    /// A response to write; the connection may serve another request.
    Reply(http::Response),
    /// The handler wrote its own response (a stream, a hijack): the connection ends.
    Streamed,
}

/// A handler's failure, as Docker's status and message.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub status: u16,
    pub message: String,
}

impl ApiError {
    pub fn new(status: u16, message: impl Into<String>) -> ApiError {
        ApiError { status, message: message.into() }
    }
}

impl From<hull_engine::error::Error> for ApiError {
    fn from(e: hull_engine::error::Error) -> ApiError {
        use hull_engine::error::Kind;
        let status = match e.kind() {
            Kind::NotFound => 404,
            Kind::Conflict | Kind::NotRunning => 409,
            Kind::InvalidArgument | Kind::CannotExecute(_) => 400,
            Kind::NotModified => 304,
            _ => 500,
        };
        ApiError::new(status, e.to_string())
    }
}

impl From<std::io::Error> for ApiError {
    fn from(e: std::io::Error) -> ApiError {
        ApiError::new(500, e.to_string())
    }
}

impl From<serde_json::Error> for ApiError {
    fn from(e: serde_json::Error) -> ApiError {
        ApiError::new(400, format!("invalid JSON: {e}"))
    }
}

pub type Result<T> = std::result::Result<T, ApiError>;

/// A request being served: the server, the request, and the connection (for handlers
/// that stream or take it over).
pub struct Ctx<'a> {
    pub server: &'a Server,
    pub req: &'a http::Request,
    /// The API version the client asked for (the newest when its path has none).
    pub version: (u32, u32),
    pub stream: &'a mut UnixStream,
    /// What the client sent past the request (a hijacked stream's first bytes).
    pub reader: &'a mut BufReader<UnixStream>,
}

impl Ctx<'_> {
    pub fn engine(&self) -> &Engine {
        &self.server.engine
    }
}

/// The headers of every response.
pub fn server_headers() -> Vec<(String, String)> {
    vec![
        ("Api-Version".into(), API_VERSION.into()),
        ("Docker-Experimental".into(), "false".into()),
        ("Ostype".into(), "linux".into()),
        ("Server".into(), format!("hull/{} (linux)", env!("CARGO_PKG_VERSION"))),
    ]
}

/// `1.41` as (1, 41).
pub fn parse_version(v: &str) -> Option<(u32, u32)> {
    let (a, b) = v.split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// Splits `/v1.41/containers/json` into the version and the path; a path without a
/// version is the newest's.
pub fn split_version(path: &str) -> std::result::Result<((u32, u32), &str), ApiError> {
    let newest = parse_version(API_VERSION).expect("a version");
    let Some(rest) = path.strip_prefix("/v") else { return Ok((newest, path)) };
    let (v, tail) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let Some(ver) = parse_version(v) else { return Ok((newest, path)) };
    if ver > newest {
        return Err(ApiError::new(
            400,
            format!("client version {v} is too new. Maximum supported API version is {API_VERSION}"),
        ));
    }
    if ver < parse_version(MIN_API_VERSION).expect("a version") {
        return Err(ApiError::new(
            400,
            format!("client version {v} is too old. Minimum supported API version is {MIN_API_VERSION}, please upgrade your client to a newer version"),
        ));
    }
    Ok((ver, tail))
}

impl Server {
    pub fn new(engine: Engine) -> Server {
        Server {
            engine,
            pending: Mutex::new(HashMap::new()),
            active: AtomicUsize::new(0),
            idle_since: Mutex::new(Instant::now()),
            trace: std::env::var_os("HULL_API_TRACE").is_some_and(|v| v == "1"),
        }
    }

    /// Registers an attach that waits for container `id`'s start.
    pub fn wait_for_start(&self, id: &str) -> mpsc::Receiver<UnixStream> {
        let (tx, rx) = mpsc::channel();
        self.pending.lock().expect("not poisoned").entry(id.to_owned()).or_default().push(tx);
        rx
    }

    /// The attaches waiting for `id`'s start, taken.
    pub fn take_waiting(&self, id: &str) -> Vec<mpsc::Sender<UnixStream>> {
        self.pending.lock().expect("not poisoned").remove(id).unwrap_or_default()
    }

    /// Serves one connection until the client closes it or a handler takes it over.
    fn connection(&self, stream: UnixStream) {
        let Ok(read_half) = stream.try_clone() else { return };
        let mut reader = BufReader::new(read_half);
        let mut stream = stream;
        loop {
            let req = match http::read_request(&mut reader) {
                Ok(Some(r)) => r,
                Ok(None) => return,
                Err(e) => {
                    let _ = http::write_response(
                        &mut stream,
                        &http::Response::error(400, &e.to_string()),
                        &server_headers(),
                        false,
                    );
                    return;
                }
            };
            let keep = req.keep_alive();
            if self.trace {
                eprintln!(
                    "hull-api: {} {}{} {:?} body {}",
                    req.method,
                    req.path,
                    query_text(&req),
                    req.headers,
                    req.body.len()
                );
            }
            let outcome = match split_version(&req.path) {
                Err(e) => Ok(Outcome::Reply(http::Response::error(e.status, &e.message))),
                Ok((version, path)) => {
                    let path = path.to_owned();
                    let mut ctx = Ctx { server: self, req: &req, version, stream: &mut stream, reader: &mut reader };
                    routes::route(&mut ctx, &path)
                }
            };
            let resp = match outcome {
                Ok(Outcome::Streamed) => return,
                Ok(Outcome::Reply(r)) => r,
                Err(e) if e.status == 304 => http::Response::empty(304),
                Err(e) => http::Response::error(e.status, &e.message),
            };
            if http::write_response(&mut stream, &resp, &server_headers(), keep).is_err() || !keep {
                return;
            }
        }
    }
}

/// Serves the API on `listener` until `idle` passes with no connection open (never
/// when None).
pub fn serve(engine: Engine, listener: UnixListener, idle: Option<Duration>) -> std::io::Result<()> {
    let server = Arc::new(Server::new(engine));
    loop {
        let mut pfd = libc::pollfd { fd: listener.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: poll(2) of one descriptor we own, for at most a second.
        let n = unsafe { libc::poll(&mut pfd, 1, 1000) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            let quiet = server.active.load(Ordering::SeqCst) == 0;
            if let (Some(idle), true) = (idle, quiet) {
                if server.idle_since.lock().expect("not poisoned").elapsed() >= idle {
                    return Ok(());
                }
            }
            continue;
        }
        let (conn, _) = match listener.accept() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        server.active.fetch_add(1, Ordering::SeqCst);
        let s = server.clone();
        std::thread::spawn(move || {
            s.connection(conn);
            *s.idle_since.lock().expect("not poisoned") = Instant::now();
            s.active.fetch_sub(1, Ordering::SeqCst);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_negotiated_as_dockerd_does() {
        assert_eq!(split_version("/v1.41/containers/json").unwrap(), ((1, 41), "/containers/json"));
        assert_eq!(split_version("/v1.24/_ping").unwrap(), ((1, 24), "/_ping"));
        assert_eq!(split_version("/_ping").unwrap(), ((1, 41), "/_ping"));
        assert_eq!(split_version("/version").unwrap().1, "/version");
        let e = split_version("/v1.44/info").unwrap_err();
        assert_eq!(e.status, 400);
        assert!(e.message.contains("too new. Maximum supported API version is 1.41"));
        assert!(split_version("/v1.12/info").unwrap_err().message.contains("too old"));
    }
}
