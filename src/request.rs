//! What a caller asks for (`Options`), and its validated, owned form
//! (`Request`) that travels to the network thread.
//!
//! Validation happens on the caller's thread and touches no disk: the
//! network thread creates directories and files when the transfer starts.

use std::borrow::Cow;
use std::ffi::{CStr, CString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::dirs::{BaseDir, Dirs};
use crate::error::Error;

/// Longest URL accepted, in bytes.
pub const MAX_URL_LEN: usize = 64 * 1024;
/// Default inactivity timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default number of redirects followed.
pub const DEFAULT_MAX_REDIRECTS: u32 = 10;
/// Default limit on a `request`'s in-memory response body.
pub const DEFAULT_MAX_BODY: u64 = 64 * 1024 * 1024;
/// How much of a non-2xx response body a download keeps (in `body`).
pub const ERROR_BODY_LIMIT: u64 = 64 * 1024;

/// A request body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    /// Bytes sent as they are.
    Bytes(Vec<u8>),
    /// A file streamed from disk, never loaded whole.
    File { filename: String, base_dir: BaseDir },
}

/// How a request body is labelled when the caller sets no `Content-Type`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BodyType {
    /// `application/x-www-form-urlencoded`, as the reference sends text bodies.
    #[default]
    Text,
    /// `application/octet-stream`.
    Binary,
}

/// Everything optional about a request. `Default` gives the documented
/// defaults, as a zero-filled `net_params` does in C.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub headers: Vec<(String, String)>,
    pub body: Option<Body>,
    /// `None`: text for byte bodies, binary for file bodies.
    pub body_type: Option<BodyType>,
    /// Inactivity limit; `None` means 30 s.
    pub timeout: Option<Duration>,
    /// Deliver `began` and `progress` events.
    pub progress: bool,
    /// Echoed in every event.
    pub user_data: usize,
    /// Report 3xx responses instead of following them.
    pub no_redirects: bool,
    /// `None` means 10.
    pub max_redirects: Option<u32>,
    /// PEM file of CA certificates to trust instead of the system's.
    pub ca_file: Option<PathBuf>,
    /// Largest response body accepted: `None` means 64 MiB for requests
    /// (kept in memory) and no limit for downloads.
    pub max_body: Option<u64>,
    /// The event queue this request's events go to; `None`: the client's
    /// default queue. It must come from this client's `create_queue`.
    pub queue: Option<crate::queue::Queue>,
    /// `began` and `progress` report the request body being sent (bytes
    /// of the body, its size as the estimate) instead of the response;
    /// turns them on without `progress`.
    pub upload_progress: bool,
    /// Retries, resume, integrity, mirrors, proxy (`net_options`).
    pub fetch: Fetch,
}

/// How a request copes with failures and checks what it got
/// (`net_options` in C). `Default` is every documented default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fetch {
    /// Retries of a transient failure, per URL.
    pub max_retries: u32,
    /// Base of the backoff; `None` means `DEFAULT_RETRY_DELAY`.
    pub retry_delay: Option<Duration>,
    /// Cap of the backoff; `None` means `DEFAULT_RETRY_MAX_DELAY`.
    pub retry_max_delay: Option<Duration>,
    /// Downloads: ask for a compressed response.
    pub compress: bool,
    /// Downloads: a cancel keeps the partial data.
    pub keep_partial: bool,
    /// Downloads: a conditional request when the target is known.
    pub if_changed: bool,
    /// Downloads: the file's size.
    pub expected_size: Option<u64>,
    /// Downloads: the file's SHA-256.
    pub sha256: Option<[u8; 32]>,
    /// Other URLs of the same file, tried in order.
    pub mirrors: Vec<String>,
    /// Downloads: ranged connections at once (0 or 1: one).
    pub segments: u32,
    /// `None`: the environment's; `Some("")`: none.
    pub proxy: Option<String>,
    /// Higher starts first, and takes more of a bandwidth cap.
    pub priority: i32,
    /// Bytes per second at most (0: no cap of its own).
    pub max_speed: u64,
    /// Downloads: recorded in the journal, restored by `net_restore`.
    pub persist: bool,
    /// Echoed in every event; kept in the journal.
    pub tag: Option<Arc<CStr>>,
    /// Started by `net_restore` (not settable from C).
    pub restored: bool,
}

/// A tag as events carry it: at most `NET_MAX_TAG` bytes, no NUL.
pub fn check_tag(tag: &str) -> Result<Arc<CStr>, Error> {
    let max = crate::ffi::types::NET_MAX_TAG;
    if tag.len() > max {
        return Err(Error::invalid(format!(
            "tag is {} bytes long; the limit is {max}",
            tag.len()
        )));
    }
    let c = CString::new(tag).map_err(|_| Error::invalid("tag contains NUL"))?;
    Ok(Arc::from(c))
}

/// 64 hexadecimal digits (either case) as 32 bytes.
pub fn parse_sha256(hex: &str) -> Result<[u8; 32], Error> {
    let bad = || Error::invalid(format!("SHA-256 {hex:?} is not 64 hexadecimal digits"));
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2).ok_or_else(bad)?, 16)
            .map_err(|_| bad())?;
    }
    Ok(out)
}

/// Most retries `Fetch::max_retries` accepts.
pub const MAX_RETRIES: u32 = 100;
/// Most mirrors accepted.
pub const MAX_MIRRORS: usize = 64;
/// Default base of the retry backoff.
pub const DEFAULT_RETRY_DELAY: Duration = Duration::from_secs(1);
/// Default cap of the retry backoff.
pub const DEFAULT_RETRY_MAX_DELAY: Duration = Duration::from_secs(30);

impl Fetch {
    /// Checks what `Request::build` cannot fix; `download`: for a file.
    fn check(&self, download: bool) -> Result<(), Error> {
        if self.max_retries > MAX_RETRIES {
            return Err(Error::invalid(format!(
                "max_retries {} is more than {MAX_RETRIES}",
                self.max_retries
            )));
        }
        if self.mirrors.len() > MAX_MIRRORS {
            return Err(Error::invalid(format!(
                "{} mirrors; at most {MAX_MIRRORS}",
                self.mirrors.len()
            )));
        }
        for (i, m) in self.mirrors.iter().enumerate() {
            check_url(m).map_err(|e| Error::new(e.kind, format!("mirror {i}: {}", e.message)))?;
        }
        if self.segments > crate::ffi::types::NET_MAX_SEGMENTS {
            return Err(Error::invalid(format!(
                "segments {} is more than {}",
                self.segments,
                crate::ffi::types::NET_MAX_SEGMENTS
            )));
        }
        if let Some(proxy) = &self.proxy {
            if let Some(c) = proxy.chars().find(|c| !c.is_ascii_graphic()) {
                return Err(Error::invalid(format!("proxy contains {c:?}")));
            }
        }
        let file_only = [
            (self.compress, "compress"),
            (self.keep_partial, "keep_partial"),
            (self.if_changed, "if_changed"),
            (self.expected_size.is_some(), "expected_size"),
            (self.sha256.is_some(), "sha256"),
            (self.segments > 1, "segments"),
            (self.persist, "persist"),
        ];
        if !download {
            if let Some((_, name)) = file_only.iter().find(|(set, _)| *set) {
                return Err(Error::invalid(format!(
                    "net_options.{name} applies to downloads only"
                )));
            }
        }
        Ok(())
    }
}

/// Where a response body goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// Into memory, up to `limit` bytes.
    Memory { limit: u64 },
    /// Into `file`, through a temporary file beside it.
    File { file: FilePath, limit: Option<u64> },
}

/// A download's file: `base/filename` as one C string (one allocation,
/// shared by the request and all its events), where the filename as given
/// is the tail. A filename that was rejected has no base: then it is the
/// whole string and there is no path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilePath {
    text: Arc<CStr>,
    /// Where the filename starts in `text`; 0 when there is no base.
    name_at: usize,
    pub dir: BaseDir,
}

impl FilePath {
    /// `base/filename`. `filename` holds no NUL (`check_filename`).
    fn new(base: &Path, filename: &str, dir: BaseDir) -> FilePath {
        let base = base.as_os_str().as_bytes();
        let mut text = Vec::with_capacity(base.len() + filename.len() + 2);
        text.extend_from_slice(base);
        if !base.ends_with(b"/") {
            text.push(b'/');
        }
        let name_at = text.len();
        text.extend_from_slice(filename.as_bytes());
        FilePath {
            text: Arc::from(CString::new(text).unwrap_or_default()),
            name_at,
            dir,
        }
    }
    /// What `Backlog` stores: the whole text (no NUL), where the filename
    /// starts in it, and the base directory.
    pub(crate) fn parts(&self) -> (&[u8], usize, BaseDir) {
        (self.text.to_bytes(), self.name_at, self.dir)
    }
    /// The inverse of `parts`; `text` ends in its NUL.
    pub(crate) fn from_parts(text: &CStr, name_at: usize, dir: BaseDir) -> FilePath {
        FilePath {
            text: Arc::from(text),
            name_at,
            dir,
        }
    }
    /// Only the filename as given (NUL bytes dropped), for the event of a
    /// download rejected before its path was known.
    pub(crate) fn unresolved(filename: &str, dir: BaseDir) -> FilePath {
        FilePath {
            text: crate::lossy_cstr(filename),
            name_at: 0,
            dir,
        }
    }
    /// The filename as given.
    pub fn filename(&self) -> &CStr {
        let bytes = &self.text.to_bytes_with_nul()[self.name_at..];
        CStr::from_bytes_with_nul(bytes).unwrap_or_default()
    }
    /// The full path of the target file, as a C string.
    pub fn c_path(&self) -> Option<&CStr> {
        (self.name_at > 0).then_some(&*self.text)
    }
    /// The full path of the target file.
    pub fn path(&self) -> Option<&Path> {
        self.c_path()
            .map(|c| Path::new(std::ffi::OsStr::from_bytes(c.to_bytes())))
    }
    /// The folder the file goes in and the file's own name (split at the
    /// last '/'); None when unresolved.
    pub fn parent_and_name(&self) -> Option<(&Path, &std::ffi::OsStr)> {
        let path = self.c_path()?.to_bytes();
        let slash = path.iter().rposition(|&b| b == b'/')?;
        let parent = if slash == 0 {
            &path[..1]
        } else {
            &path[..slash]
        };
        let os = std::ffi::OsStr::from_bytes;
        Some((Path::new(os(parent)), os(&path[slash + 1..])))
    }
    /// The base directory (empty when unresolved).
    pub fn base(&self) -> &Path {
        let bytes = self.text.to_bytes();
        let base = match self.name_at {
            0 => &bytes[..0],
            1 => &bytes[..1], // the root directory
            n => &bytes[..n - 1],
        };
        Path::new(std::ffi::OsStr::from_bytes(base))
    }
}

/// A validated request. While it waits for a transfer slot it is packed
/// into the `Backlog`; it is a `Request` again when it starts.
#[derive(Debug)]
pub struct Request {
    pub id: u64,
    pub user_data: usize,
    pub url: Arc<CStr>,
    /// Upper-case; the common methods take no allocation.
    pub method: Cow<'static, str>,
    pub timeout: Duration,
    pub progress: bool,
    pub follow_redirects: bool,
    pub max_redirects: u32,
    pub target: Target,
    /// The number of the event queue its events go to.
    pub queue: u32,
    /// `began`/`progress` report the upload (`Options::upload_progress`).
    pub upload_progress: bool,
    /// What most requests do not set.
    pub extra: Option<Box<Extra>>,
}

/// The rarely used parts of a request.
#[derive(Debug, Default)]
pub struct Extra {
    /// `Name: value` lines, ready for libcurl.
    pub headers: Vec<String>,
    pub has_content_type: bool,
    pub body: Option<ResolvedBody>,
    pub body_type: BodyType,
    pub ca_file: Option<PathBuf>,
    pub fetch: Fetch,
    /// Data on disk a restored download continues (`net_restore`).
    pub kept: Option<crate::agent::Kept>,
}

impl Extra {
    /// Whether anything but the CA file is set.
    pub fn beyond_ca_file(&self) -> bool {
        !self.headers.is_empty()
            || self.body.is_some()
            || self.fetch != Fetch::default()
            || self.kept.is_some()
    }
}

/// A body with its file path resolved.
#[derive(Debug)]
pub enum ResolvedBody {
    Bytes(Vec<u8>),
    File(PathBuf),
}

impl Request {
    /// Validates and copies everything; `download` is `(filename, base_dir)`.
    pub fn build(
        id: u64,
        url: &str,
        method: &str,
        opts: Options,
        download: Option<(&str, BaseDir)>,
        dirs: &Dirs,
    ) -> Result<Request, Error> {
        check_url(url)?;
        let method = check_method(method)?;
        opts.fetch.check(download.is_some())?;
        let mut headers = Vec::with_capacity(opts.headers.len());
        let mut has_content_type = false;
        for (name, value) in &opts.headers {
            check_header(name, value)?;
            has_content_type |= name.eq_ignore_ascii_case("content-type");
            headers.push(format!("{name}: {value}"));
        }
        let timeout = match opts.timeout {
            Some(t) if t.is_zero() => return Err(Error::invalid("timeout must be positive")),
            Some(t) => t,
            None => DEFAULT_TIMEOUT,
        };
        if opts.fetch.persist && opts.body.is_some() {
            return Err(Error::invalid(
                "net_options.persist applies to downloads without a request body",
            ));
        }
        let (body, default_type) = match opts.body {
            None => (None, BodyType::Text),
            Some(Body::Bytes(b)) => (Some(ResolvedBody::Bytes(b)), BodyType::Text),
            Some(Body::File { filename, base_dir }) => {
                let path = dirs.path(base_dir)?.join(check_filename(&filename)?);
                (Some(ResolvedBody::File(path)), BodyType::Binary)
            }
        };
        let target = match download {
            None => Target::Memory {
                limit: opts.max_body.unwrap_or(DEFAULT_MAX_BODY),
            },
            Some((filename, base_dir)) => {
                if base_dir == BaseDir::Resource {
                    return Err(Error::invalid(
                        "NET_DIR_RESOURCE is read-only; download into another directory",
                    ));
                }
                check_filename(filename)?;
                let file =
                    dirs.with_path(base_dir, |base| FilePath::new(base, filename, base_dir))?;
                Target::File {
                    file,
                    limit: opts.max_body,
                }
            }
        };
        let extra = Extra {
            headers,
            has_content_type,
            body,
            body_type: opts.body_type.unwrap_or(default_type),
            ca_file: opts.ca_file,
            fetch: opts.fetch,
            kept: None,
        };
        let plain = !extra.beyond_ca_file() && extra.ca_file.is_none();
        Ok(Request {
            id,
            user_data: opts.user_data,
            url: Arc::from(CString::new(url).map_err(|_| Error::invalid("URL contains NUL"))?),
            method,
            timeout,
            // Upload progress turns the events on by itself.
            progress: opts.progress || opts.upload_progress,
            follow_redirects: !opts.no_redirects,
            max_redirects: opts.max_redirects.unwrap_or(DEFAULT_MAX_REDIRECTS),
            target,
            queue: opts
                .queue
                .as_ref()
                .map_or(crate::queue::DEFAULT_QUEUE, |q| q.0.number),
            upload_progress: opts.upload_progress,
            extra: (!plain).then(|| Box::new(extra)),
        })
    }

    /// The rarely used parts (defaults when none were set).
    pub fn extra(&self) -> &Extra {
        static NONE: Extra = Extra {
            headers: Vec::new(),
            has_content_type: false,
            body: None,
            body_type: BodyType::Text,
            ca_file: None,
            fetch: Fetch {
                max_retries: 0,
                retry_delay: None,
                retry_max_delay: None,
                compress: false,
                keep_partial: false,
                if_changed: false,
                expected_size: None,
                sha256: None,
                mirrors: Vec::new(),
                segments: 0,
                proxy: None,
                priority: 0,
                max_speed: 0,
                persist: false,
                tag: None,
                restored: false,
            },
            kept: None,
        };
        self.extra.as_deref().unwrap_or(&NONE)
    }

    /// Downloads: the target file.
    pub fn file(&self) -> Option<&FilePath> {
        match &self.target {
            Target::File { file, .. } => Some(file),
            Target::Memory { .. } => None,
        }
    }
}

/// A URL must be absolute http(s), printable ASCII (percent-encode the
/// rest, as the reference asks), and have a host. libcurl's own parser
/// checks the finer grammar when the transfer starts.
fn check_url(url: &str) -> Result<(), Error> {
    if url.is_empty() {
        return Err(Error::invalid("URL is empty"));
    }
    if url.len() > MAX_URL_LEN {
        return Err(Error::invalid(format!(
            "URL is {} bytes long; the limit is {MAX_URL_LEN}",
            url.len()
        )));
    }
    if let Some(c) = url.chars().find(|c| !c.is_ascii_graphic()) {
        return Err(Error::invalid(format!(
            "URL contains {c:?}; percent-encode spaces, control and non-ASCII characters"
        )));
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return match url.split_once(':') {
            Some((s, _)) if is_scheme(s) => Err(unsupported(s)),
            _ => Err(Error::invalid(format!(
                "URL {url:?} has no scheme (http:// or https://)"
            ))),
        };
    };
    if !is_scheme(scheme) {
        return Err(Error::invalid(format!("URL {url:?} has an invalid scheme")));
    }
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err(unsupported(scheme));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or("");
    if host.is_empty() || host.starts_with(':') {
        return Err(Error::invalid(format!("URL {url:?} has no host")));
    }
    Ok(())
}

fn is_scheme(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
}

fn unsupported(scheme: &str) -> Error {
    Error::new(
        crate::error::ErrorKind::UnsupportedScheme,
        format!("scheme {scheme:?} is not supported; only http and https are"),
    )
}

/// RFC 9110 `tchar`: the characters a method or header name may use.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// The methods a request names without an allocation.
pub(crate) const COMMON_METHODS: [&str; 6] = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"];

/// Upper-cases the method (as the reference does) and checks it is a token.
fn check_method(method: &str) -> Result<Cow<'static, str>, Error> {
    if !is_token(method) {
        return Err(Error::invalid(format!(
            "method {method:?} is not a valid HTTP token"
        )));
    }
    Ok(
        match COMMON_METHODS
            .iter()
            .find(|m| m.eq_ignore_ascii_case(method))
        {
            Some(m) => Cow::Borrowed(m),
            None => Cow::Owned(method.to_ascii_uppercase()),
        },
    )
}

fn check_header(name: &str, value: &str) -> Result<(), Error> {
    if !is_token(name) {
        return Err(Error::invalid(format!(
            "header name {name:?} is not a valid HTTP token"
        )));
    }
    if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        return Err(Error::invalid(format!(
            "value of header {name:?} contains CR, LF or NUL"
        )));
    }
    Ok(())
}

/// A filename is a relative path that stays inside its base directory and
/// names a file (no trailing slash).
pub fn check_filename(name: &str) -> Result<&Path, Error> {
    if name.is_empty() {
        return Err(Error::invalid("filename is empty"));
    }
    if name.contains('\0') {
        return Err(Error::invalid(format!("filename {name:?} contains NUL")));
    }
    let path = Path::new(name);
    if name.ends_with('/') || name.ends_with("/.") || name == "." {
        return Err(Error::invalid(format!(
            "filename {name:?} names a directory"
        )));
    }
    for c in path.components() {
        match c {
            Component::Normal(_) | Component::CurDir => {}
            Component::ParentDir => {
                return Err(Error::invalid(format!(
                    "filename {name:?} contains '..'; it must stay inside its base directory"
                )))
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(Error::invalid(format!(
                    "filename {name:?} is absolute; it must be relative to its base directory"
                )))
            }
        }
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn kind(r: Result<(), Error>) -> Option<ErrorKind> {
        r.err().map(|e| e.kind)
    }

    #[test]
    fn urls() {
        assert_eq!(kind(check_url("http://127.0.0.1:8/x?y#z")), None);
        assert_eq!(kind(check_url("HTTPS://user@h/")), None);
        for bad in [
            "",
            "http://",
            "http:///x",
            "http://:80/",
            "no-scheme",
            "http://a b",
            "http://é",
        ] {
            assert_eq!(
                kind(check_url(bad)),
                Some(ErrorKind::InvalidArgument),
                "{bad}"
            );
        }
        for bad in [
            "file:///etc/passwd",
            "ftp://h/",
            "gopher://h",
            "dict://h",
            "ldap://h",
            "mailto:x@y",
        ] {
            assert_eq!(
                kind(check_url(bad)),
                Some(ErrorKind::UnsupportedScheme),
                "{bad}"
            );
        }
        let long = format!("http://h/{}", "a".repeat(MAX_URL_LEN));
        assert_eq!(kind(check_url(&long)), Some(ErrorKind::InvalidArgument));
    }

    #[test]
    fn methods_and_headers() {
        assert_eq!(check_method("patch").unwrap(), "PATCH");
        assert_eq!(check_method("PROPFIND").unwrap(), "PROPFIND");
        assert!(check_method("GET\r\n").is_err());
        assert!(check_method("").is_err());
        assert!(check_method("G T").is_err());
        assert!(check_header("X-Ok", "fine value").is_ok());
        assert!(check_header("X-Bad\r\n", "v").is_err());
        assert!(check_header("X-Ok", "a\r\nInjected: 1").is_err());
        assert!(check_header("", "v").is_err());
    }

    #[test]
    fn filenames() {
        assert!(check_filename("a.bin").is_ok());
        assert!(check_filename("sub/dir/a.bin").is_ok());
        assert!(check_filename("./a.bin").is_ok());
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a/..",
            "dir/",
            ".",
            "a/.",
        ] {
            assert!(check_filename(bad).is_err(), "{bad}");
        }
    }
}
