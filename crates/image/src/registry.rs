//! A registry client for the OCI distribution spec: manifests and blobs, pull and push,
//! anonymous, basic and bearer-token auth (the WWW-Authenticate challenge flow of Docker
//! Hub and ghcr.io), credentials from Docker's `config.json`.
//!
//! hull has its own small blocking client over `ureq` rather than the `oci-client`
//! crate: oci-client is async and brings a tokio runtime and reqwest into every `hull`
//! process — `hull run` pulls in-process and must start in milliseconds — and it hides
//! the two things hull needs to own: the auth challenge (scopes for cross-repository
//! mounts, credentials from Docker's file) and byte-level progress and resumption
//! (Range requests into a `.partial`). Concurrency is a few threads, one per layer in
//! flight, which is all a pull of a handful of layers can use.
//!
//! Plain HTTP is used for `localhost`, `127.0.0.0/8` and `::1`, as Docker treats them as
//! insecure registries; elsewhere HTTPS, verified unless `tls_verify` is false (then
//! unverified, falling back to HTTP if the registry does not speak TLS).

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::image::MANIFEST_TYPES;
use crate::reference::{Reference, DEFAULT_REGISTRY};
use base64::Engine as _;
use sha2::{Digest as _, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use ureq::http::Response;
use ureq::Body;

/// A user name and password (or identity token) for a registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, <hidden>)", self.username)
    }
}

/// How to reach registries.
#[derive(Debug, Clone)]
pub struct Options {
    pub tls_verify: bool,
    /// Credentials given with the request (the API's `X-Registry-Auth`), before those
    /// of Docker's config.json.
    pub credentials: Option<Credentials>,
}

impl Default for Options {
    fn default() -> Self {
        Options { tls_verify: true, credentials: None }
    }
}

/// The host a registry name is served from (Docker Hub's API is not on docker.io).
pub fn api_host(registry: &str) -> &str {
    if registry == DEFAULT_REGISTRY {
        "registry-1.docker.io"
    } else {
        registry
    }
}

/// Whether a registry is reached over plain HTTP by default, as Docker does for
/// loopback.
pub fn is_local(registry: &str) -> bool {
    let host = if let Some(rest) = registry.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        registry
            .rsplit_once(':')
            .map_or(registry, |(h, p)| if p.bytes().all(|b| b.is_ascii_digit()) { h } else { registry })
    };
    host == "localhost" || host == "::1" || host.parse::<std::net::Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
}

// ---- credentials: Docker's config.json ----

/// The registry `login`/`logout` name: Docker Hub's when none is given (or one of its
/// index aliases), else the host of what is given (a URL's scheme and path dropped).
pub fn server_name(s: Option<&str>) -> String {
    match s.filter(|s| !s.is_empty()) {
        None => DEFAULT_REGISTRY.into(),
        Some(s) => {
            let s = s.trim_start_matches("https://").trim_start_matches("http://");
            let host = s.split('/').next().unwrap_or(s);
            if host == "index.docker.io" || host == "registry-1.docker.io" {
                DEFAULT_REGISTRY.into()
            } else {
                host.to_string()
            }
        }
    }
}

/// Checks that registry `server` accepts `creds` (`hull login`, the API's `/auth`).
pub fn check_login(server: &str, creds: Credentials, opts: Options) -> Result<()> {
    let probe = Reference {
        registry: server.to_owned(),
        repository: "library/hull-login-probe".into(),
        tag: None,
        digest: None,
    };
    Client::new(&probe, opts, false, Some(creds))?.ping()
}

/// `$DOCKER_CONFIG/config.json`, or `~/.docker/config.json`.
pub fn docker_config_path() -> PathBuf {
    if let Some(d) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("config.json");
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/root"));
    home.join(".docker/config.json")
}

/// The key Docker uses for a registry in `auths`.
fn auth_key(registry: &str) -> String {
    if registry == DEFAULT_REGISTRY {
        "https://index.docker.io/v1/".into()
    } else {
        registry.into()
    }
}

fn read_config(path: &Path) -> Result<serde_json::Value> {
    match std::fs::read(path) {
        Ok(b) => serde_json::from_slice(&b).map_err(|e| crate::error::format(path.display().to_string(), e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(serde_json::json!({})),
        Err(e) => Err(Error::Io { what: format!("read {}", path.display()), source: e }),
    }
}

/// The credentials stored for `registry` in `path` (Docker's config.json), if any.
pub fn credentials_in(path: &Path, registry: &str) -> Result<Option<Credentials>> {
    let cfg = read_config(path)?;
    let auths = cfg.get("auths").and_then(|a| a.as_object());
    let key = auth_key(registry);
    let entry = auths.and_then(|a| {
        a.get(&key).or_else(|| {
            // Docker also matches keys written as URLs.
            a.iter()
                .find(|(k, _)| {
                    k.trim_start_matches("https://").trim_start_matches("http://").split('/').next() == Some(registry)
                })
                .map(|(_, v)| v)
        })
    });
    let Some(auth) = entry.and_then(|e| e.get("auth")).and_then(|a| a.as_str()) else {
        return Ok(None);
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(auth)
        .map_err(|e| crate::error::format(path.display().to_string(), format!("auth for {registry}: {e}")))?;
    let s = String::from_utf8_lossy(&decoded);
    let (u, p) = s.split_once(':').ok_or_else(|| {
        crate::error::format(path.display().to_string(), format!("auth for {registry} is not user:password"))
    })?;
    Ok(Some(Credentials { username: u.into(), password: p.into() }))
}

/// Stores (or with `None` removes) credentials for `registry` in `path`, keeping the
/// rest of the file; written atomically, mode 0600. Returns whether anything changed.
pub fn store_credentials(path: &Path, registry: &str, creds: Option<&Credentials>) -> Result<bool> {
    let mut cfg = read_config(path)?;
    if !cfg.is_object() {
        cfg = serde_json::json!({});
    }
    let key = auth_key(registry);
    let auths = cfg.as_object_mut().expect("object").entry("auths").or_insert_with(|| serde_json::json!({}));
    let Some(auths) = auths.as_object_mut() else {
        return Err(crate::error::format(path.display().to_string(), "\"auths\" is not an object"));
    };
    let changed = match creds {
        Some(c) => {
            let auth = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", c.username, c.password));
            auths.insert(key, serde_json::json!({ "auth": auth }));
            true
        }
        None => auths.remove(&key).is_some(),
    };
    if changed {
        use std::os::unix::fs::OpenOptionsExt;
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(crate::error::io(format!("create {}", dir.display())))?;
        let tmp = dir.join(format!(".config.json.hull-{}", std::process::id()));
        (|| {
            let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
            std::io::Write::write_all(&mut f, &serde_json::to_vec_pretty(&cfg).expect("json"))?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)
        })()
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            Error::Io { what: format!("write {}", path.display()), source: e }
        })?;
    }
    Ok(changed)
}

// ---- the client ----

#[derive(Clone)]
enum Auth {
    None,
    Basic(String),
    Bearer(String),
}

/// A client for one repository on one registry.
pub struct Client {
    agent: ureq::Agent,
    pub registry: String,
    pub repository: String,
    base: Mutex<String>,
    fallback_http: bool,
    creds: Option<Credentials>,
    auth: Mutex<Auth>,
    /// The scopes asked for in a bearer token ("pull" or "pull,push").
    actions: &'static str,
}

/// A manifest as fetched: its bytes, the Content-Type the registry gave, its digest.
pub struct Fetched {
    pub bytes: Vec<u8>,
    pub media_type: Option<String>,
    pub digest: Digest,
}

enum Payload<'a> {
    Empty,
    Bytes(&'a [u8]),
    File(&'a Path),
}

fn header(r: &Response<Body>, name: &str) -> Option<String> {
    r.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

impl Client {
    /// A client for `r`'s repository; `push` asks for push rights in tokens.
    /// Credentials come from `creds`, else from Docker's config.json.
    pub fn new(r: &Reference, opts: Options, push: bool, creds: Option<Credentials>) -> Result<Client> {
        let creds = match creds.or_else(|| opts.credentials.clone()) {
            Some(c) => Some(c),
            None => credentials_in(&docker_config_path(), &r.registry)?,
        };
        let local = is_local(&r.registry);
        let tls = ureq::tls::TlsConfig::builder().disable_verification(!opts.tls_verify).build();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .tls_config(tls)
            .timeout_connect(Some(std::time::Duration::from_secs(30)))
            .user_agent(concat!("hull/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        let scheme = if local { "http" } else { "https" };
        Ok(Client {
            agent,
            registry: r.registry.clone(),
            repository: r.repository.clone(),
            base: Mutex::new(format!("{scheme}://{}", api_host(&r.registry))),
            fallback_http: !opts.tls_verify && !local,
            creds,
            auth: Mutex::new(Auth::None),
            actions: if push { "pull,push" } else { "pull" },
        })
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            return path.to_string();
        }
        format!("{}{path}", self.base.lock().expect("lock"))
    }

    fn what(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    fn raw(&self, method: &str, url: &str, headers: &[(&str, String)], body: &Payload) -> Result<Response<Body>> {
        let mut b = ureq::http::Request::builder().method(method).uri(url);
        match &*self.auth.lock().expect("lock") {
            Auth::None => {}
            Auth::Basic(v) => b = b.header("Authorization", format!("Basic {v}")),
            Auth::Bearer(t) => b = b.header("Authorization", format!("Bearer {t}")),
        }
        for (k, v) in headers {
            b = b.header(*k, v);
        }
        let err = |e: ureq::Error| Error::Registry(format!("{method} {url}: {e}"));
        let r = match body {
            Payload::Empty => self.agent.run(b.body(()).map_err(|e| Error::Registry(e.to_string()))?),
            Payload::Bytes(data) => self.agent.run(b.body(*data).map_err(|e| Error::Registry(e.to_string()))?),
            Payload::File(p) => {
                let f = std::fs::File::open(p).map_err(crate::error::io(format!("open {}", p.display())))?;
                self.agent.run(b.body(f).map_err(|e| Error::Registry(e.to_string()))?)
            }
        };
        r.map_err(err)
    }

    /// Sends a request, answering one auth challenge; switches to HTTP when allowed and
    /// TLS fails.
    fn send(&self, method: &str, path: &str, headers: &[(&str, String)], body: Payload) -> Result<Response<Body>> {
        let url = self.url(path);
        let r = match self.raw(method, &url, headers, &body) {
            Err(e) if self.fallback_http && url.starts_with("https://") && !path.starts_with("http") => {
                let http = self.base.lock().expect("lock").replacen("https://", "http://", 1);
                *self.base.lock().expect("lock") = http;
                self.raw(method, &self.url(path), headers, &body).map_err(|_| e)?
            }
            r => r?,
        };
        if r.status().as_u16() != 401 {
            return Ok(r);
        }
        let challenge = header(&r, "www-authenticate").unwrap_or_default();
        self.authenticate(&challenge, &[])?;
        self.raw(method, &self.url(path), headers, &body)
    }

    /// Answers a WWW-Authenticate challenge: Basic with the stored credentials, or a
    /// bearer token from the realm for this repository's scope (and `extra` scopes).
    fn authenticate(&self, challenge: &str, extra: &[String]) -> Result<()> {
        let (scheme, params) = challenge.split_once(' ').unwrap_or((challenge, ""));
        let params = parse_challenge(params);
        match scheme.to_ascii_lowercase().as_str() {
            "basic" => {
                let c = self.creds.as_ref().ok_or_else(|| self.unauthorized())?;
                let v = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", c.username, c.password));
                *self.auth.lock().expect("lock") = Auth::Basic(v);
                Ok(())
            }
            "bearer" => {
                let realm = params
                    .get("realm")
                    .ok_or_else(|| Error::Registry(format!("{}: a bearer challenge without a realm", self.registry)))?;
                let mut url = format!("{realm}?");
                if let Some(s) = params.get("service") {
                    url.push_str(&format!("service={}&", urlencode(s)));
                }
                let mut scopes = vec![format!("repository:{}:{}", self.repository, self.actions)];
                scopes.extend(extra.iter().cloned());
                for s in &scopes {
                    url.push_str(&format!("scope={}&", urlencode(s)));
                }
                url.pop();
                let mut req = ureq::http::Request::builder().method("GET").uri(&url);
                if let Some(c) = &self.creds {
                    let v = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", c.username, c.password));
                    req = req.header("Authorization", format!("Basic {v}"));
                }
                let mut r = self
                    .agent
                    .run(req.body(()).map_err(|e| Error::Registry(e.to_string()))?)
                    .map_err(|e| Error::Registry(format!("token from {realm}: {e}")))?;
                if !r.status().is_success() {
                    return Err(Error::Registry(format!(
                        "{}: the token service {realm} answered {}",
                        self.what(),
                        r.status()
                    )));
                }
                let body = r
                    .body_mut()
                    .with_config()
                    .limit(1 << 20)
                    .read_to_vec()
                    .map_err(|e| Error::Registry(format!("token from {realm}: {e}")))?;
                let v: serde_json::Value =
                    serde_json::from_slice(&body).map_err(|e| Error::Registry(format!("token from {realm}: {e}")))?;
                let token = v
                    .get("token")
                    .or_else(|| v.get("access_token"))
                    .and_then(|t| t.as_str())
                    .ok_or_else(|| Error::Registry(format!("token from {realm}: no token in the answer")))?;
                *self.auth.lock().expect("lock") = Auth::Bearer(token.to_string());
                Ok(())
            }
            _ => Err(self.unauthorized()),
        }
    }

    fn unauthorized(&self) -> Error {
        Error::Registry(format!(
            "{}: unauthorized: authentication required (hull login {})",
            self.what(),
            self.registry
        ))
    }

    /// An error from a registry's answer: its `errors` document if it sent one.
    fn fail(&self, what: &str, mut r: Response<Body>) -> Error {
        let status = r.status();
        let body = r.body_mut().with_config().limit(64 << 10).read_to_vec().unwrap_or_default();
        let detail = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("errors")?.as_array()?.first().cloned())
            .map(|e| {
                format!(
                    "{}: {}",
                    e.get("code").and_then(|c| c.as_str()).unwrap_or(""),
                    e.get("message").and_then(|c| c.as_str()).unwrap_or("")
                )
            })
            .unwrap_or_else(|| status.to_string());
        if status.as_u16() == 401 || status.as_u16() == 403 {
            return Error::Registry(format!("{what} {}: {detail} (hull login {})", self.what(), self.registry));
        }
        Error::Registry(format!("{what} {}: {detail}", self.what()))
    }

    /// Checks that the registry accepts the credentials (`hull login`).
    pub fn ping(&self) -> Result<()> {
        let r = self.send("GET", "/v2/", &[], Payload::Empty)?;
        if r.status().is_success() {
            return Ok(());
        }
        // A token service that gave a token is enough (the /v2/ scope may differ).
        Err(self.fail("login to", r))
    }

    /// Fetches a manifest or index by tag or digest, verified against the digest it was
    /// asked by (or the one the registry announced).
    pub fn manifest(&self, object: &str) -> Result<Fetched> {
        let accept = MANIFEST_TYPES.join(", ");
        let mut r = self.send(
            "GET",
            &format!("/v2/{}/manifests/{object}", self.repository),
            &[("Accept", accept)],
            Payload::Empty,
        )?;
        if !r.status().is_success() {
            return Err(self.fail(&format!("manifest {object} of"), r));
        }
        let media_type = header(&r, "content-type").map(|c| c.split(';').next().unwrap_or("").trim().to_string());
        let announced = header(&r, "docker-content-digest");
        let bytes = r
            .body_mut()
            .with_config()
            .limit(4 << 20)
            .read_to_vec()
            .map_err(|e| Error::Registry(format!("manifest {object} of {}: {e}", self.what())))?;
        let digest = Digest::from_bytes(Sha256::digest(&bytes).into());
        let expected = object.parse::<Digest>().ok().or_else(|| announced.and_then(|a| a.parse().ok()));
        if let Some(e) = expected {
            if e != digest {
                return Err(Error::DigestMismatch { expected: e, actual: digest });
            }
        }
        Ok(Fetched { bytes, media_type, digest })
    }

    /// A reader of blob `d` from byte `offset` (a Range request); returns the offset it
    /// really starts at (0 if the registry ignored the range).
    pub fn blob(&self, d: &Digest, offset: u64) -> Result<(Box<dyn Read + Send>, u64)> {
        let mut headers = Vec::new();
        if offset > 0 {
            headers.push(("Range", format!("bytes={offset}-")));
        }
        let r = self.send("GET", &format!("/v2/{}/blobs/{d}", self.repository), &headers, Payload::Empty)?;
        let start = match r.status().as_u16() {
            206 => offset,
            200 => 0,
            416 => return self.blob(d, 0),
            _ => return Err(self.fail(&format!("blob {d} of"), r)),
        };
        Ok((Box::new(r.into_body().into_reader()), start))
    }

    /// A small blob (a config), read whole and verified.
    pub fn blob_bytes(&self, d: &Digest, limit: u64) -> Result<Vec<u8>> {
        let (mut r, _) = self.blob(d, 0)?;
        let mut v = Vec::new();
        r.by_ref()
            .take(limit + 1)
            .read_to_end(&mut v)
            .map_err(|e| Error::Registry(format!("blob {d} of {}: {e}", self.what())))?;
        if v.len() as u64 > limit {
            return Err(Error::Registry(format!("blob {d} of {}: larger than {limit} bytes", self.what())));
        }
        let actual = Digest::from_bytes(Sha256::digest(&v).into());
        if actual != *d {
            return Err(Error::DigestMismatch { expected: *d, actual });
        }
        Ok(v)
    }

    /// Whether the repository has blob `d` (HEAD).
    pub fn has_blob(&self, d: &Digest) -> Result<bool> {
        let r = self.send("HEAD", &format!("/v2/{}/blobs/{d}", self.repository), &[], Payload::Empty)?;
        match r.status().as_u16() {
            200 => Ok(true),
            404 => Ok(false),
            _ => Err(self.fail(&format!("blob {d} of"), r)),
        }
    }

    /// Tries to mount blob `d` from repository `from` on the same registry; true when
    /// the registry did (201), false when an upload is needed.
    pub fn mount_blob(&self, d: &Digest, from: &str) -> Result<bool> {
        if matches!(&*self.auth.lock().expect("lock"), Auth::Bearer(_)) {
            // The token must also allow pulling from the source repository.
            let challenge =
                self.send("GET", "/v2/", &[], Payload::Empty).ok().and_then(|r| header(&r, "www-authenticate"));
            if let Some(c) = challenge {
                let _ = self.authenticate(&c, &[format!("repository:{from}:pull")]);
            }
        }
        let path = format!("/v2/{}/blobs/uploads/?mount={d}&from={}", self.repository, urlencode(from));
        let r = self.send("POST", &path, &[("Content-Length", "0".into())], Payload::Empty)?;
        match r.status().as_u16() {
            201 => Ok(true),
            202 => {
                // Not mounted: an upload session was opened instead; let it expire.
                Ok(false)
            }
            _ => Err(self.fail(&format!("mount blob {d} into"), r)),
        }
    }

    /// Uploads blob `d` from the file `path` (one monolithic PUT).
    pub fn upload_blob(&self, d: &Digest, path: &Path) -> Result<()> {
        let r = self.send(
            "POST",
            &format!("/v2/{}/blobs/uploads/", self.repository),
            &[("Content-Length", "0".into())],
            Payload::Empty,
        )?;
        if r.status().as_u16() != 202 {
            return Err(self.fail(&format!("start uploading {d} to"), r));
        }
        let location = header(&r, "location")
            .ok_or_else(|| Error::Registry(format!("{}: no Location for the upload of {d}", self.what())))?;
        let location = if location.starts_with('/') { self.url(&location) } else { location };
        let sep = if location.contains('?') { '&' } else { '?' };
        let url = format!("{location}{sep}digest={}", urlencode(&d.to_string()));
        let r = self.send("PUT", &url, &[("Content-Type", "application/octet-stream".into())], Payload::File(path))?;
        if r.status().as_u16() != 201 {
            return Err(self.fail(&format!("upload {d} to"), r));
        }
        Ok(())
    }

    /// Puts a manifest under `tag` (or its digest); returns its digest.
    pub fn put_manifest(&self, tag: &str, bytes: &[u8], media_type: &str) -> Result<Digest> {
        let r = self.send(
            "PUT",
            &format!("/v2/{}/manifests/{tag}", self.repository),
            &[("Content-Type", media_type.into())],
            Payload::Bytes(bytes),
        )?;
        if r.status().as_u16() != 201 {
            return Err(self.fail(&format!("put manifest {tag} to"), r));
        }
        Ok(Digest::from_bytes(Sha256::digest(bytes).into()))
    }
}

/// The key="value" pairs of a challenge.
fn parse_challenge(s: &str) -> std::collections::HashMap<String, String> {
    let mut out = std::collections::HashMap::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let Some((k, v)) = rest.split_once('=') else { break };
        let k = k.trim().trim_start_matches(',').trim().to_ascii_lowercase();
        let v = v.trim_start();
        let (value, after) = if let Some(q) = v.strip_prefix('"') {
            match q.find('"') {
                Some(end) => (&q[..end], &q[end + 1..]),
                None => (q, ""),
            }
        } else {
            match v.find(',') {
                Some(end) => (&v[..end], &v[end..]),
                None => (v, ""),
            }
        };
        out.insert(k, value.to_string());
        rest = after.trim_start().trim_start_matches(',').trim_start();
    }
    out
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => (b as char).to_string(),
            b => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_server_names() {
        for (given, want) in [
            (None, DEFAULT_REGISTRY),
            (Some(""), DEFAULT_REGISTRY),
            (Some("https://index.docker.io/v1/"), DEFAULT_REGISTRY),
            (Some("registry-1.docker.io"), DEFAULT_REGISTRY),
            (Some("http://127.0.0.1:5000/v2/"), "127.0.0.1:5000"),
            (Some("ghcr.io"), "ghcr.io"),
        ] {
            assert_eq!(server_name(given), want, "{given:?}");
        }
    }

    #[test]
    fn challenges_and_hosts() {
        let c = parse_challenge(
            r#"realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#,
        );
        assert_eq!(c["realm"], "https://auth.docker.io/token");
        assert_eq!(c["service"], "registry.docker.io");
        assert_eq!(c["scope"], "repository:library/busybox:pull");
        for local in ["localhost", "localhost:5000", "127.0.0.1:5000", "127.1.2.3", "[::1]:5000"] {
            assert!(is_local(local), "{local}");
        }
        for remote in ["docker.io", "ghcr.io", "10.0.0.1:5000", "localhost.example.com"] {
            assert!(!is_local(remote), "{remote}");
        }
        assert_eq!(api_host("docker.io"), "registry-1.docker.io");
        assert_eq!(urlencode("repository:a/b:pull,push"), "repository%3Aa/b%3Apull%2Cpush");
    }

    #[test]
    fn credentials_round_trip_through_dockers_file() {
        let dir = std::env::temp_dir().join(format!("hull-creds-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let p = dir.join("config.json");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(&p, r#"{"auths":{"other.io":{"auth":"eDp5"}},"credsStore":""}"#).unwrap();
        let c = Credentials { username: "u".into(), password: "p:w".into() };
        assert!(store_credentials(&p, "localhost:5000", Some(&c)).unwrap());
        assert!(store_credentials(&p, "docker.io", Some(&c)).unwrap());
        assert_eq!(credentials_in(&p, "localhost:5000").unwrap(), Some(c.clone()));
        assert_eq!(
            credentials_in(&p, "other.io").unwrap(),
            Some(Credentials { username: "x".into(), password: "y".into() })
        );
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        assert!(v["auths"]["https://index.docker.io/v1/"]["auth"].is_string() && v.get("credsStore").is_some(), "{v}");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(store_credentials(&p, "localhost:5000", None).unwrap());
        assert!(!store_credentials(&p, "localhost:5000", None).unwrap());
        assert_eq!(credentials_in(&p, "localhost:5000").unwrap(), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
