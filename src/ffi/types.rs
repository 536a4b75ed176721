//! Every type and constant C can see.
//!
//! Enumerations cross the boundary as fixed-width integers (`uint32_t`)
//! with named constants: C may pass any value, and Rust checks it before
//! turning it into an enum.

use std::ffi::{c_char, c_void};

/// A boolean that C passes in: 0 is false, any other value is true (so a
/// `bool`, a byte of `memset(..., 0xff, ...)` or an old binary's padding
/// are all read safely). Same size as C's `bool`.
pub type net_bool = u8;

/// Identifies one request. 0 is never a valid id: the calls that start a
/// request return 0 only after `net_shutdown`.
pub type net_id = u64;

/// The phase an event reports (one of `NET_PHASE_*`).
pub type net_phase = u32;
/// Response headers are in: status, headers and `bytes_estimated` are
/// known. Only when `net_params.progress` is set.
pub const NET_PHASE_BEGAN: net_phase = 0;
/// More body bytes arrived. Only when `net_params.progress` is set; at
/// most about 10 per second per request, at least one every 500 ms while
/// bytes flow, and the bytes that came before a pause are reported within
/// about 100 ms of the pause.
pub const NET_PHASE_PROGRESS: net_phase = 1;
/// The request is over, successfully or not. Exactly once per id, unless
/// the id was cancelled.
pub const NET_PHASE_ENDED: net_phase = 2;

/// A base directory (one of `NET_DIR_*`). Default paths (Linux, XDG):
/// `<app>` is "netdl" unless changed with `net_set_app_name`.
pub type net_dir = u32;
/// `$XDG_DATA_HOME/<app>/Documents` (`~/.local/share/<app>/Documents`): persists.
pub const NET_DIR_DOCUMENTS: net_dir = 0;
/// `$TMPDIR/<app>-<uid>` (`/tmp/<app>-<uid>`): may vanish after exit.
/// Created with mode 0700; an existing one is used only when it is a real
/// directory (no symbolic link) owned by this uid and not writable by
/// group or others, else the download ends with `NET_ERROR_IO` naming the
/// folder and the reason. A folder set with `net_set_directory` is used as
/// it is.
pub const NET_DIR_TEMPORARY: net_dir = 1;
/// `$XDG_CACHE_HOME/<app>` (`~/.cache/<app>`): persists, may be purged.
pub const NET_DIR_CACHES: net_dir = 2;
/// `$XDG_DATA_HOME/<app>/ApplicationSupport`: persists, hidden from users.
pub const NET_DIR_APPLICATION_SUPPORT: net_dir = 3;
/// The directory of the running executable. Read-only: a download into it
/// ends with `NET_ERROR_INVALID_ARGUMENT`; a body file may be read from it.
pub const NET_DIR_RESOURCE: net_dir = 4;

/// What went wrong (one of `NET_ERROR_*`). Values are fixed and never
/// reused; new ones may be added, so treat unknown values as failures.
pub type net_error = u32;
/// No error.
pub const NET_ERROR_NONE: net_error = 0;
/// A bad URL, method, header, filename, directory or params field.
pub const NET_ERROR_INVALID_ARGUMENT: net_error = 1;
/// A scheme other than http or https, in the URL or in a redirect.
pub const NET_ERROR_UNSUPPORTED_SCHEME: net_error = 2;
/// The host name could not be resolved.
pub const NET_ERROR_DNS: net_error = 3;
/// The server could not be connected to.
pub const NET_ERROR_CONNECT: net_error = 4;
/// The TLS handshake failed or the certificate was not trusted.
pub const NET_ERROR_TLS: net_error = 5;
/// Nothing moved for longer than the inactivity timeout.
pub const NET_ERROR_TIMEOUT: net_error = 6;
/// The connection was lost mid-transfer: reset, closed early, or the body
/// was shorter than announced.
pub const NET_ERROR_NETWORK: net_error = 7;
/// The response was malformed (bad HTTP, bad content encoding).
pub const NET_ERROR_PROTOCOL: net_error = 8;
/// More redirects than allowed (`net_params.max_redirects`, default 10).
pub const NET_ERROR_TOO_MANY_REDIRECTS: net_error = 9;
/// The response was larger than allowed (`net_params.max_body`).
pub const NET_ERROR_TOO_LARGE: net_error = 10;
/// A local file could not be created, written, read or renamed.
pub const NET_ERROR_IO: net_error = 11;
/// A bug in netdl. Please report it.
pub const NET_ERROR_INTERNAL: net_error = 12;
/// The download is not the file that was expected: its size or SHA-256
/// differs from `net_options.expected_size` / `net_options.sha256` (a
/// different announced size is caught before the body is downloaded). The
/// target is left as it was and the data is discarded.
pub const NET_ERROR_INTEGRITY: net_error = 13;

/// How a request body is labelled when no Content-Type header is given
/// (one of `NET_BODY_*`).
pub type net_body_type = u32;
/// Text for a `body`, binary for a `body_file`.
pub const NET_BODY_AUTO: net_body_type = 0;
/// `Content-Type: application/x-www-form-urlencoded` (the reference's default).
pub const NET_BODY_TEXT: net_body_type = 1;
/// `Content-Type: application/octet-stream`.
pub const NET_BODY_BINARY: net_body_type = 2;

/// Whether a response body looks like text (one of `NET_RESPONSE_*`).
pub type net_response_type = u32;
/// `text/...`, JSON, XML, JavaScript or form data.
pub const NET_RESPONSE_TEXT: net_response_type = 0;
/// Anything else, and every download.
pub const NET_RESPONSE_BINARY: net_response_type = 1;

/// What `NET_PHASE_BEGAN` / `NET_PHASE_PROGRESS` report (one of
/// `NET_PROGRESS_*`).
pub type net_progress = u32;
/// The response body being received (the default).
pub const NET_PROGRESS_DOWNLOAD: net_progress = 0;
/// The request body being sent: `began` when the upload starts,
/// `progress` while it goes, with `bytes_transferred` the body bytes sent
/// and `bytes_estimated` the body's size (-1 if unknown). The `ended`
/// event reports the response as always.
pub const NET_PROGRESS_UPLOAD: net_progress = 1;

/// Bits of `net_event.flags`.
pub type net_event_flags = u32;
/// `NET_PHASE_ENDED` of a download with `net_options.if_changed`: the
/// server answered 304, the file on disk is current and was not touched
/// (`status` is 304, no body was transferred).
pub const NET_EVENT_UNCHANGED: net_event_flags = 1;
/// This attempt continued data received earlier (by an earlier attempt, or
/// kept from an earlier download of the same URL to the same file) with a
/// `Range` request: `bytes_transferred` started where that data ended.
pub const NET_EVENT_RESUMED: net_event_flags = 2;
/// The request was started by `net_restore` from the journal of an
/// earlier process (every event of it carries this bit and its `tag`).
pub const NET_EVENT_RESTORED: net_event_flags = 4;

/// Longest `net_options.tag`, in bytes.
pub const NET_MAX_TAG: usize = 1024;

/// The most segments `net_options.segments` asks for.
pub const NET_MAX_SEGMENTS: u32 = 16;
/// The smallest segment, in bytes (4 MiB): a file is split only into
/// parts at least this large.
pub const NET_MIN_SEGMENT: u64 = 4 * 1024 * 1024;

/// An event queue (opaque). Requests whose `net_params.queue` names it
/// deliver their events to it, and only to it, so several consumers in
/// one process (an engine and its scripts, two plugins) never take each
/// other's events. They share the one network thread, its connections
/// and its limits. Created by `net_queue_create`, freed by
/// `net_queue_destroy`.
#[derive(Debug)]
pub struct net_queue {
    pub(crate) queue: crate::queue::Queue,
}

/// An HTTP header: a name and its value, both NUL-terminated.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct net_header {
    pub name: *const c_char,
    pub value: *const c_char,
}

/// Options of one request. Pass NULL for all defaults.
///
/// Zero-fill it (`net_params p = {0};` or `memset`) and set the fields you
/// need: every zero field means its default, so no init call is needed.
///
/// Layout rule: `sizeof(net_params)` never changes (160 bytes). Fields
/// added in later versions are carved out of `reserved`, and zero means
/// "default" for each of them, so a caller built against an older header
/// keeps working (0.1 had `reserved[8]`; `queue`, `progress_of` and
/// `reserved32` came out of its first two words, `options` out of the
/// third). Options beyond these live in `net_options`, which grows by its
/// own `size` field. `reserved` and
/// `reserved32` must be all zero; anything else is rejected with
/// `NET_ERROR_INVALID_ARGUMENT`. Booleans are `net_bool`: any non-zero
/// byte is true.
///
/// Everything it points to is copied before the call returns.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct net_params {
    /// Request headers; `header_count` entries. NULL is allowed when
    /// `header_count` is 0. Names must be HTTP tokens; values must not
    /// hold CR or LF.
    pub headers: *const net_header,
    pub header_count: usize,
    /// Request body of `body_len` bytes, sent as is. NULL is allowed when
    /// `body_len` is 0.
    pub body: *const c_void,
    pub body_len: usize,
    /// Inactivity timeout in seconds: the request fails with
    /// `NET_ERROR_TIMEOUT` when connecting, or receiving, stalls this long.
    /// It is not a limit on the total time. 0 means 30.
    pub timeout: u32,
    /// Deliver `NET_PHASE_BEGAN` and `NET_PHASE_PROGRESS` events too.
    pub progress: net_bool,
    /// Echoed in every event of this request; never dereferenced.
    pub user_data: *mut c_void,
    /// How the body is labelled when no Content-Type header is set
    /// (`NET_BODY_*`); 0 means `NET_BODY_AUTO`.
    pub body_type: net_body_type,
    /// Stream the request body from this file (relative to
    /// `body_file_dir`) instead of `body`. NULL means none.
    pub body_file: *const c_char,
    /// Base directory of `body_file` (`NET_DIR_*`).
    pub body_file_dir: net_dir,
    /// Report 3xx responses instead of following them.
    pub no_redirects: net_bool,
    /// Redirects followed at most; 0 means 10.
    pub max_redirects: u32,
    /// PEM file of CA certificates to trust instead of the system's. NULL
    /// means the system's.
    pub ca_file: *const c_char,
    /// Largest response body accepted, in bytes (`NET_ERROR_TOO_LARGE`
    /// beyond it). 0 means 64 MiB for `net_request` (kept in memory) and
    /// no limit for `net_download`.
    pub max_body: u64,
    /// The queue this request's events go to. NULL means the default
    /// queue, the one `net_poll` / `net_wait` drain. It must not have been
    /// destroyed.
    pub queue: *mut net_queue,
    /// What `began` / `progress` report (`NET_PROGRESS_*`); 0 means
    /// `NET_PROGRESS_DOWNLOAD`. `NET_PROGRESS_UPLOAD` (the reference's
    /// `progress = "upload"`) turns those events on by itself.
    pub progress_of: net_progress,
    /// Must be zero.
    pub reserved32: u32,
    /// More options (retries, resume, integrity, mirrors, proxy, ...), in
    /// a struct of their own that grows by its `size` field. NULL means
    /// every default. Copied before return.
    pub options: *const net_options,
    /// Must be zero. Future fields come from here.
    pub reserved: [u64; 5],
}

/// The options that do not fit in `net_params` (`net_params.options`).
///
/// Extension rule: `size` is `sizeof(net_options)` as the caller's header
/// declares it, so a caller built against an older header passes a
/// smaller struct and every field it does not know keeps its default;
/// later versions only append fields. A `size` larger than this netdl
/// knows is accepted when the bytes it does not know are all zero, and
/// rejected with `NET_ERROR_INVALID_ARGUMENT` otherwise; so is a `size`
/// that is no version's size (0, or one that cuts a field). Initialise with
/// `net_options o = net_options_init();` (or zero-fill it and set `size`):
/// every zero field means its default.
///
/// Everything it points to is copied before the call returns.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct net_options {
    /// `sizeof(net_options)`. Required: 0 is rejected.
    pub size: u32,
    /// How many times a transient failure is retried (default 0, at most
    /// 100): could not connect, DNS failure, timeout, connection lost, and
    /// the statuses 408, 429, 500, 502, 503 and 504. Never retried: other
    /// statuses, invalid arguments, TLS failures, `NET_ERROR_IO`,
    /// `NET_ERROR_INTEGRITY` of a file that came whole from one source. A
    /// retry of a download resumes where possible. Between attempts the
    /// request waits (holding no transfer slot and no connection) a random
    /// time between 0 and `min(retry_max_delay_ms, retry_delay_ms * 2^(n-1))`
    /// before retry n ("full jitter"), or what a `Retry-After` of the
    /// response asks (at most 300 s). Events carry the attempt number; the
    /// `ended` event of a request that gave up reports the last attempt.
    pub max_retries: u32,
    /// Base of the backoff in milliseconds; 0 means 1000.
    pub retry_delay_ms: u32,
    /// Cap of the backoff in milliseconds; 0 means 30000.
    pub retry_max_delay_ms: u32,
    /// Downloads: the file's expected size in bytes; 0 means not checked.
    /// A response announcing another size fails with `NET_ERROR_INTEGRITY`
    /// before its body is downloaded.
    pub expected_size: u64,
    /// Downloads: the file's expected SHA-256, as 64 hexadecimal digits;
    /// NULL means not checked. Computed while the file is written; a
    /// mismatch fails with `NET_ERROR_INTEGRITY` and leaves the target as
    /// it was.
    pub sha256: *const c_char,
    /// Alternative URLs of the same file, `mirror_count` entries, tried in
    /// order after the URL given to the call when it fails (after its
    /// retries): a transient failure or a status that is not 2xx. Each
    /// mirror gets `max_retries` retries of its own. A download resumes
    /// across mirrors only when their validators agree or `sha256` is set.
    /// The `ended` event's `url` is the one that delivered the last byte.
    pub mirrors: *const *const c_char,
    pub mirror_count: usize,
    /// The proxy to use, as libcurl and curl take it
    /// (`http://host:port`, `socks5h://host:port`, ...). NULL means the
    /// environment's `http_proxy` / `https_proxy` / `no_proxy` (lower case
    /// `http_proxy` only, as curl); "" means no proxy at all. A proxy set
    /// here is used for every host, whatever `no_proxy` says.
    pub proxy: *const c_char,
    /// Downloads: ask for a compressed response (`Accept-Encoding: gzip,
    /// deflate`, decoded by netdl). By default a download asks for the file
    /// itself (`Accept-Encoding: identity`), so `bytes_estimated` is the
    /// file's size and it can resume; a compressed response cannot resume.
    /// `net_request` always asks for compression.
    pub compress: net_bool,
    /// Downloads: keep the partial data of a cancelled download so that a
    /// later download of the same URL to the same file resumes it (by
    /// default a cancel deletes it). Partial data of a download that failed
    /// is always kept, when its response had a strong validator.
    pub keep_partial: net_bool,
    /// Downloads: when the target exists and netdl saved it with a
    /// validator (an `ETag` or `Last-Modified`), ask the server whether it
    /// changed (`If-None-Match` / `If-Modified-Since`). A 304 ends
    /// successfully with the file untouched and `NET_EVENT_UNCHANGED` in
    /// the `ended` event's flags.
    pub if_changed: net_bool,
    /// Must be zero.
    pub reserved8: u8,
    /// Downloads: fetch a large file over this many ranged connections at
    /// once (at most `NET_MAX_SEGMENTS`; 0 or 1: one connection), for
    /// links where one connection is throttled or far away. Only when the
    /// response announces the length, accepts ranges (`Accept-Ranges:
    /// bytes`), has a strong validator and is not compressed, and only as
    /// many segments as give each at least `NET_MIN_SEGMENT` bytes;
    /// otherwise one connection. Each segment writes at its own offset into
    /// the one temporary file; a segment whose connection fails is fetched
    /// again from where its data ends (at most `max_retries` + the number
    /// of segments times in all); progress is the sum. Resume, integrity
    /// and the atomic replacement of the target hold as for any download.
    pub segments: u32,
    // Fields appended after `segments` (a caller built against the first
    // `net_options` passes size 64 and gets their defaults).
    /// Higher starts first (default 0; negative values are lower): queued
    /// requests start highest priority first, in submission order within
    /// one priority. Under a bandwidth cap (`net_set_max_speed`) running
    /// transfers share it by priority. Changed later with
    /// `net_set_priority`.
    pub priority: i32,
    /// Downloads: record the download in the journal (in
    /// `NET_DIR_APPLICATION_SUPPORT`) so that `net_restore` in a later
    /// process (after a kill, a crash or `net_shutdown`) continues it from
    /// the data on disk, kept in `.NAME.netdl-partial` beside the target
    /// once the journal claims it. Not with a request body. See the README,
    /// "Surviving suspend and restarts".
    pub persist: net_bool,
    /// Must be zero.
    pub reserved24: [u8; 3],
    /// Largest average receive rate of this request in bytes per second
    /// (0: none), on top of the global cap of `net_set_max_speed`.
    pub max_speed: u64,
    /// A string of the application's choosing (at most 1024 bytes, NULL:
    /// none), echoed in every event's `tag`. It survives in the journal
    /// (`persist`), where `user_data` cannot: after `net_restore` it is how
    /// the application recognises its downloads.
    pub tag: *const c_char,
}

/// One event. Filled in by `net_poll` / `net_wait` (or `net_queue_poll` /
/// `net_queue_wait`) into caller storage.
///
/// Every pointer in it is Borrowed: owned by netdl, valid until the next
/// poll or wait of the same queue, its `net_queue_destroy`, or
/// `net_shutdown`. Never free one; copy what you keep.
///
/// Layout rule: `sizeof(net_event)` never changes; fields added later are
/// carved out of `reserved`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct net_event {
    /// The request's id, as returned by `net_download` / `net_request`.
    pub id: net_id,
    /// `net_params.user_data` of the request.
    pub user_data: *mut c_void,
    /// `NET_PHASE_*`.
    pub phase: net_phase,
    /// True when the request failed (only in `NET_PHASE_ENDED`). An HTTP
    /// error status (404, 500, ...) is not a failure: see `status`.
    pub is_error: bool,
    /// `NET_ERROR_*`; `NET_ERROR_NONE` unless `is_error`.
    pub error_code: net_error,
    /// A message for humans; "" unless `is_error`. Never NULL.
    pub error: *const c_char,
    /// HTTP status of the final response; 0 when none arrived.
    pub status: i32,
    /// Body bytes received so far (decoded); for a download, bytes of the
    /// file, data resumed from disk included. Never decreases within one
    /// attempt; a `began` of a later attempt may start lower when the
    /// download had to start over. On `NET_PHASE_ENDED`, the whole body's
    /// size.
    pub bytes_transferred: i64,
    /// The final response's Content-Length, or -1 when unknown (also when
    /// the body is compressed); 0 for HEAD, 204 and 304.
    pub bytes_estimated: i64,
    /// The final URL after redirects (the request URL until a response
    /// arrived; "" if the URL was unusable). Never NULL.
    pub url: *const c_char,
    /// Response headers of the final response, `header_count` entries, in
    /// the order received; NULL when `header_count` is 0.
    pub headers: *const net_header,
    pub header_count: usize,
    /// Downloads: the full path of the target file, which holds the
    /// complete body when `NET_PHASE_ENDED` reports a 2xx status without
    /// error. NULL for `net_request` and downloads rejected before start.
    pub path: *const c_char,
    /// `NET_PHASE_ENDED` of `net_request`: the response body. Downloads
    /// with a non-2xx status: the start of the error body (at most 64 KiB);
    /// the target file is left untouched. NULL otherwise. Not
    /// NUL-terminated.
    pub body: *const c_void,
    pub body_len: usize,
    /// `NET_RESPONSE_*`: text for textual Content-Types of requests;
    /// always binary for downloads.
    pub response_type: net_response_type,
    /// Downloads: the base directory given to `net_download`.
    pub base_dir: net_dir,
    /// Downloads: the filename given to `net_download`; NULL otherwise.
    pub filename: *const c_char,
    /// Which attempt this event is about: 1 for the first, n + 1 for the
    /// n-th retry or mirror (`net_options.max_retries`, `mirrors`).
    pub attempt: u32,
    /// `NET_EVENT_*` bits.
    pub flags: net_event_flags,
    /// Body bytes that came from the network for this request, over all its
    /// attempts (`bytes_transferred` also counts data resumed from disk).
    pub bytes_received: i64,
    /// `net_options.tag` of the request (restored from the journal after
    /// `net_restore`); NULL when it has none.
    pub tag: *const c_char,
    /// Zero. Future fields come from here.
    pub reserved: [u64; 5],
}
