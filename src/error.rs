//! Error kinds, their stable numeric codes, and the mapping from libcurl errors.

use std::fmt;

/// What went wrong, as a stable number shared with C (`net_error`).
///
/// Values are explicit and never reused: a retired kind keeps its number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum ErrorKind {
    InvalidArgument = 1,
    UnsupportedScheme = 2,
    Dns = 3,
    Connect = 4,
    Tls = 5,
    Timeout = 6,
    Network = 7,
    Protocol = 8,
    TooManyRedirects = 9,
    TooLarge = 10,
    Io = 11,
    Internal = 12,
    Integrity = 13,
}

impl ErrorKind {
    /// Every kind, in code order (for tests and bindings).
    pub const ALL: [ErrorKind; 13] = [
        ErrorKind::InvalidArgument,
        ErrorKind::UnsupportedScheme,
        ErrorKind::Dns,
        ErrorKind::Connect,
        ErrorKind::Tls,
        ErrorKind::Timeout,
        ErrorKind::Network,
        ErrorKind::Protocol,
        ErrorKind::TooManyRedirects,
        ErrorKind::TooLarge,
        ErrorKind::Io,
        ErrorKind::Internal,
        ErrorKind::Integrity,
    ];

    pub fn code(self) -> u32 {
        self as u32
    }

    pub fn from_code(code: u32) -> Option<ErrorKind> {
        ErrorKind::ALL.iter().copied().find(|k| k.code() == code)
    }

    /// The C constant's name, e.g. `"NET_ERROR_TIMEOUT"`.
    pub fn name(self) -> &'static str {
        self.c_name().to_str().unwrap_or("NET_ERROR_UNKNOWN")
    }

    /// The name as a static C string.
    pub fn c_name(self) -> &'static std::ffi::CStr {
        match self {
            ErrorKind::InvalidArgument => c"NET_ERROR_INVALID_ARGUMENT",
            ErrorKind::UnsupportedScheme => c"NET_ERROR_UNSUPPORTED_SCHEME",
            ErrorKind::Dns => c"NET_ERROR_DNS",
            ErrorKind::Connect => c"NET_ERROR_CONNECT",
            ErrorKind::Tls => c"NET_ERROR_TLS",
            ErrorKind::Timeout => c"NET_ERROR_TIMEOUT",
            ErrorKind::Network => c"NET_ERROR_NETWORK",
            ErrorKind::Protocol => c"NET_ERROR_PROTOCOL",
            ErrorKind::TooManyRedirects => c"NET_ERROR_TOO_MANY_REDIRECTS",
            ErrorKind::TooLarge => c"NET_ERROR_TOO_LARGE",
            ErrorKind::Io => c"NET_ERROR_IO",
            ErrorKind::Internal => c"NET_ERROR_INTERNAL",
            ErrorKind::Integrity => c"NET_ERROR_INTEGRITY",
        }
    }
}

/// A failure of one request: its kind and a message for humans.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::InvalidArgument, message)
    }

    pub fn io(what: &str, err: &std::io::Error) -> Error {
        Error::new(ErrorKind::Io, format!("{what}: {err}"))
    }

    /// Classifies a failed libcurl transfer; the message carries libcurl's
    /// own description and, when it has one, the transfer's detail text.
    pub fn from_curl(err: &curl::Error) -> Error {
        let kind = if err.is_couldnt_resolve_host() || err.is_couldnt_resolve_proxy() {
            ErrorKind::Dns
        } else if err.is_couldnt_connect() {
            ErrorKind::Connect
        } else if err.is_operation_timedout() {
            ErrorKind::Timeout
        } else if err.is_ssl_connect_error()
            || err.is_peer_failed_verification()
            || err.is_ssl_certproblem()
            || err.is_ssl_cipher()
            || err.is_ssl_cacert_badfile()
            || err.is_ssl_engine_notfound()
            || err.is_ssl_engine_setfailed()
            || err.is_ssl_engine_initfailed()
            || err.is_ssl_crl_badfile()
            || err.is_ssl_issuer_error()
            || err.is_ssl_shutdown_failed()
            || err.is_use_ssl_failed()
        {
            ErrorKind::Tls
        } else if err.is_unsupported_protocol()
            && (detail_has(err, "HTTP/0.9") || detail_has(err, "response"))
        {
            // libcurl reports a reply that is not HTTP at all (HTTP/0.9,
            // disabled by default), an HTTP version it does not speak and a
            // status code out of range as an unsupported protocol: "...
            // in response". Its messages about schemes name no response.
            ErrorKind::Protocol
        } else if err.is_unsupported_protocol() {
            ErrorKind::UnsupportedScheme
        } else if err.is_url_malformed() {
            ErrorKind::InvalidArgument
        } else if err.is_too_many_redirects() {
            ErrorKind::TooManyRedirects
        } else if err.is_filesize_exceeded()
            || err.code() == CURLE_TOO_LARGE
            || detail_has(err, "Too large response headers")
        {
            ErrorKind::TooLarge
        } else if err.is_bad_content_encoding()
            || err.is_http2_error()
            || err.code() == CURLE_WEIRD_SERVER_REPLY
        {
            ErrorKind::Protocol
        } else if err.is_write_error() || err.is_read_error() || err.is_file_couldnt_read_file() {
            ErrorKind::Io
        } else if err.is_bad_function_argument() && detail_has(err, "response header") {
            // A header line libcurl cannot parse ("Invalid response
            // header"): the server's fault, not a bad argument of ours.
            ErrorKind::Protocol
        } else if err.is_out_of_memory() || err.is_bad_function_argument() {
            ErrorKind::Internal
        } else {
            // Partial file, receive/send errors, empty reply, HTTP/2 stream
            // resets: the connection was lost mid-transfer.
            ErrorKind::Network
        };
        // libcurl's detail for this transfer is more specific than the
        // generic text of its code.
        let message = match err.extra_description() {
            Some(extra) if !extra.is_empty() => extra.to_string(),
            _ => err.description().to_string(),
        };
        Error::new(kind, message)
    }
}

/// libcurl reuses some codes for distinct failures; its detail text tells
/// them apart (e.g. "Too large response headers" is a CURLE_RECV_ERROR).
fn detail_has(err: &curl::Error, text: &str) -> bool {
    err.extra_description().is_some_and(|d| d.contains(text))
}

// libcurl codes curl-rust has no predicate for.
const CURLE_WEIRD_SERVER_REPLY: u32 = 8;
const CURLE_TOO_LARGE: u32 = 100;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.name(), self.message)
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_and_round_trip() {
        for (i, kind) in ErrorKind::ALL.iter().enumerate() {
            assert_eq!(kind.code(), i as u32 + 1);
            assert_eq!(ErrorKind::from_code(kind.code()), Some(*kind));
        }
        assert_eq!(ErrorKind::from_code(0), None);
        assert_eq!(ErrorKind::from_code(14), None);
    }
}
