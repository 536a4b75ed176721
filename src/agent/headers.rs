//! The header callback's lines: header blocks delimited as libcurl
//! delimits them (a line starting with CR or LF ends one), status lines
//! and Content-Lengths read as libcurl reads them, and trailers after a
//! chunked body, which change nothing.

use std::time::Instant;

use super::transfer::Transfer;
use crate::error::{Error, ErrorKind};

/// Reading a response's header blocks.
impl Transfer {
    /// One line from libcurl's header callback: each response's header
    /// block (a status line, fields, and a line starting with CR or LF
    /// that ends it) and, after a chunked body, trailer fields, which no
    /// such line ends. Trailers change nothing: after the final block the
    /// status, the headers and where the body goes stay as they are.
    ///
    /// Unless libcurl starts another response itself, as it does after a
    /// final block when it sends the request again (a 417 answer to
    /// `Expect: 100-continue`, which it sends with request bodies over
    /// 1 MiB on HTTP/1.1 or when the caller adds it; authentication rounds
    /// need options netdl never sets) or follows a redirect we took for
    /// final (a `Location` after an empty one). Such a status line may
    /// look like a trailer (`HTTP/1.1 200 OK: x`), so a status-shaped line
    /// with a colon or a leading blank after a chunked response opens a
    /// `Lines::MaybeBlock`: a response only if a line ending a block
    /// follows. One with neither is surely a status line (libcurl rejects
    /// trailers without a colon). Two in a row (trailers shaped like status
    /// lines then a status line with a colon, or such a status line and
    /// then a field shaped like one) cannot be told apart: the response
    /// fails.
    pub(super) fn on_header_line(&mut self, line: &[u8]) -> Result<(), Error> {
        self.last_activity = Instant::now();
        if line.first().is_some_and(|&b| b == b'\r' || b == b'\n') {
            // How libcurl recognises the end of a block (even "\rX\n").
            return self.on_block_end();
        }
        // NUL is never valid in HTTP: dropped here, once per line.
        let without_nul: Vec<u8>;
        let line = if line.contains(&0) {
            without_nul = line.iter().copied().filter(|&b| b != 0).collect();
            &without_nul
        } else {
            line
        };
        let line = trim_crlf(line);
        let colon = line.iter().position(|&b| b == b':');
        let folded = line.first().is_some_and(|&b| b == b' ' || b == b'\t');
        // Neither a field nor a trailer: libcurl rejects those without a
        // colon unless they start with a blank.
        let surely_status = colon.is_none() && !folded;
        if let Some(code) = parse_status(line) {
            match self.lines {
                // In a block, a line with a colon is a field, even one
                // named `HTTP/1.1 200 OK`.
                Lines::Block if !surely_status => {}
                Lines::After(after @ After { chunked: true, .. }) if !surely_status => {
                    self.headers.clear();
                    self.lines = Lines::MaybeBlock(Some(code), after);
                    return Ok(());
                }
                // A second one: which is the status line (a trailer, then
                // the status line; or the status line, then a field) cannot
                // be told, and no server has a reason to send either.
                Lines::MaybeBlock(_, after) if !surely_status => {
                    self.lines = Lines::MaybeBlock(None, after);
                    return Ok(());
                }
                _ => {
                    self.headers.clear();
                    return self.start_response(code);
                }
            }
        }
        // libcurl takes a line starting with `HTTP/`, in any case, that it
        // cannot read as a status line for a 200 (`http/1.1 404`).
        let lenient = line
            .get(..5)
            .is_some_and(|p| p.eq_ignore_ascii_case(b"HTTP/"));
        match self.lines {
            Lines::MaybeBlock(..) if lenient && surely_status => return Err(malformed_status()),
            // A trailer, a field, or the status line libcurl read by
            // leniency: which cannot be told.
            Lines::MaybeBlock(_, after) if lenient => {
                self.lines = Lines::MaybeBlock(None, after);
                return Ok(());
            }
            Lines::Block | Lines::MaybeBlock(..) => {}
            // Where no trailer can be, the first line of a response.
            Lines::Between => return Err(malformed_status()),
            Lines::After(After { chunked, .. }) if lenient && (!chunked || surely_status) => {
                return Err(malformed_status())
            }
            // A trailer (or, after a chunked body, a status line with a
            // colon that libcurl read by leniency: its block's end fails).
            Lines::After(_) => return Ok(()),
        }
        if folded {
            // Obsolete line folding: continue the previous value.
            self.headers.continue_last(trim_blanks(line));
        } else if let Some(colon) = colon {
            // Names as libcurl matches them: `Location :` is not Location.
            self.headers
                .push(&line[..colon], trim_blanks(&line[colon + 1..]));
        }
        Ok(())
    }

    /// Why a transfer libcurl ended without an error did not succeed: it
    /// ended before the header block of a final response was complete
    /// (libcurl takes a connection closed there for the end of a response
    /// with an empty body).
    pub fn cut_off(&self) -> Option<Error> {
        let complete = match self.lines {
            Lines::After(after) | Lines::MaybeBlock(_, after) => after.last,
            Lines::Between | Lines::Block => false,
        };
        (!complete).then(|| {
            Error::new(
                ErrorKind::Network,
                "the connection ended before the response's header block did",
            )
        })
    }

    /// The status line of a response: a header block begins.
    pub(super) fn start_response(&mut self, code: i32) -> Result<(), Error> {
        // libcurl sends a request again only after a response whose body
        // it dropped (a redirect it follows, a 417, an authentication
        // round). Body bytes already stored would mix two bodies (an
        // HTTP/2 stream reset with HTTP_1_1_REQUIRED after data is
        // retried so): fail rather than store them.
        if self.received_here > 0 {
            return Err(Error::new(
                ErrorKind::Protocol,
                "the server began another response after a body",
            ));
        }
        self.status = code;
        self.lines = Lines::Block;
        Ok(())
    }

    /// The line that ends a header block (never sent after trailers).
    pub(super) fn on_block_end(&mut self) -> Result<(), Error> {
        match self.lines {
            Lines::Block => {}
            Lines::MaybeBlock(Some(code), _) => self.start_response(code)?, // a response
            Lines::MaybeBlock(None, _) => {
                return Err(Error::new(
                    ErrorKind::Protocol,
                    "a response after trailers shaped like status lines",
                ))
            }
            // A block whose first line libcurl took for a status line by
            // leniency.
            Lines::Between | Lines::After(_) => return Err(malformed_status()),
        }
        self.lines = if is_interim(self.status) {
            Lines::Between
        } else {
            Lines::After(After {
                // Trailers shaped like a status line can only follow a
                // chunked HTTP/1.1 body (an HTTP/2 field name has no '/').
                chunked: self.find_header("transfer-encoding").is_some(),
                last: !self.follows_redirect(),
            })
        };
        self.on_headers_complete()
    }
}

/// Where the header callback is among the lines libcurl hands it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Lines {
    /// Before a response's header block: at the start, or after a 1xx.
    Between,
    /// In a header block, whose status is `Transfer::status`.
    Block,
    /// After the header block of a response: a line is a trailer, or the
    /// status line of a response libcurl started.
    After(After),
    /// After a line that is either a trailer shaped like a status line or
    /// the status line, with this code, of a response libcurl started:
    /// the latter only if a line ending a block follows. None after two
    /// such lines: a block they are in fails.
    MaybeBlock(Option<i32>, After),
}

/// What the last complete header block was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct After {
    /// It announced a chunked body, so trailers may follow.
    chunked: bool,
    /// The final response (not a redirect libcurl follows).
    last: bool,
}

pub(super) fn malformed_status() -> Error {
    Error::new(ErrorKind::Protocol, "malformed status line")
}

/// A 1xx that another response follows. libcurl takes a 101 it did not
/// ask for (netdl never asks for an upgrade) as the final response.
pub(super) fn is_interim(status: i32) -> bool {
    (100..200).contains(&status) && status != 101
}

/// The status code of a status line: after blanks, `HTTP/1.0` or
/// `HTTP/1.1`, a blank and three digits (whatever follows, as libcurl
/// reads it: `HTTP/1.1 2000` is a 200), or `HTTP/2` or `HTTP/3`, a blank,
/// three digits and a blank. None for any other line, including those
/// libcurl takes for a 200 by leniency (`http/1.1 404`, `HTTP/2 404`
/// without the blank).
pub(super) fn parse_status(line: &[u8]) -> Option<i32> {
    let blank = |b: &u8| *b == b' ' || *b == b'\t';
    let start = line.iter().position(|b| !blank(b)).unwrap_or(line.len());
    let digits = match line[start..].strip_prefix(b"HTTP/")? {
        [b'1', b'.', b'0' | b'1', sep, rest @ ..] if blank(sep) => rest.get(..3)?,
        [b'2' | b'3', sep, rest @ ..] if blank(sep) && rest.get(3).is_some_and(blank) => &rest[..3],
        _ => return None,
    };
    digits.iter().try_fold(0, |code, &d| {
        d.is_ascii_digit().then(|| code * 10 + i32::from(d - b'0'))
    })
}

/// A Content-Length value as libcurl reads it: digits, or a list of the
/// same digits separated by commas, within blanks. None for anything else
/// (libcurl fails on it) and for a length over `i64::MAX` (libcurl reads
/// the body to the connection's end).
pub(super) fn content_length(value: &[u8]) -> Option<i64> {
    let mut lengths = value.split(|&b| b == b',').map(|n| {
        let n = trim_blanks(n);
        if n.is_empty() || !n.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(n).ok()?.parse::<i64>().ok()
    });
    let first = lengths.next()??;
    lengths.all(|n| n == Some(first)).then_some(first)
}

pub(super) fn trim_crlf(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Without leading and trailing spaces and tabs (what libcurl trims).
pub(super) fn trim_blanks(s: &[u8]) -> &[u8] {
    let is_blank = |b: &u8| *b == b' ' || *b == b'\t';
    let start = s.iter().position(|b| !is_blank(b)).unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !is_blank(b))
        .map_or(start, |i| i + 1);
    &s[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        assert_eq!(parse_status(b"HTTP/1.1 404 Not Found"), Some(404));
        assert_eq!(parse_status(b"HTTP/2 404 "), Some(404));
        assert_eq!(parse_status(b"HTTP/1.1\t404 OK"), Some(404));
        assert_eq!(parse_status(b"  HTTP/1.0 302"), Some(302));
        // libcurl reads three digits, whatever follows.
        assert_eq!(parse_status(b"HTTP/1.1 4040 OK"), Some(404));
        assert_eq!(parse_status(b"HTTP/1.1 404OK"), Some(404));
        // Lines libcurl refuses.
        assert_eq!(parse_status(b"HTTP/1.1"), None);
        assert_eq!(parse_status(b"HTTP/1.1 40"), None);
        assert_eq!(parse_status(b"HTTP/1.2 404"), None);
        assert_eq!(parse_status(b" http/1.1 404"), None);
        assert_eq!(parse_status(b"X-HTTP/1.1 404"), None);
        assert_eq!(parse_status(b"HTTP/x: y"), None);
        // Lines libcurl takes for a 200 by leniency.
        assert_eq!(parse_status(b"HTTP/2 404"), None);
        assert_eq!(parse_status(b"http/1.1 404 Not Found"), None);
        assert_eq!(parse_status(b"HTTP/3 40x "), None);
    }

    #[test]
    fn content_lengths() {
        assert_eq!(content_length(b"42"), Some(42));
        assert_eq!(content_length(b" 42 \t"), Some(42));
        assert_eq!(content_length(b"42, 42,42"), Some(42));
        assert_eq!(content_length(b"42, 43"), None);
        assert_eq!(content_length(b"+42"), None);
        assert_eq!(content_length(b""), None);
        assert_eq!(content_length(b"4 2"), None);
        assert_eq!(content_length(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(content_length(b"9223372036854775808"), None);
        assert_eq!(content_length(b"18446744073709551615"), None);
    }

    #[test]
    fn blanks() {
        assert_eq!(trim_blanks(b" \t a b\t "), b"a b");
        assert_eq!(trim_blanks(b"  "), b"");
        assert_eq!(trim_blanks(b"\x0ca"), b"\x0ca");
    }
}

#[cfg(test)]
mod header_lines_tests {
    use std::collections::HashSet;

    use curl::easy::{Easy2, Handler};

    use super::*;
    use crate::queue::EventTx;
    use crate::request::{Options, Request};

    /// A request's handler fed `lines` as libcurl's header callback, and
    /// `body` bytes after the line at index `body_at` (if any).
    fn feed(lines: &[&str], body_at: Option<usize>) -> Easy2<Transfer> {
        let queues = crate::queue::Queues::new();
        let tx = EventTx::new(queues.default_queue().clone());
        let dirs = crate::dirs::Dirs::default();
        let url = "http://127.0.0.1:9/";
        let req = Request::build(1, url, "GET", Options::default(), None, &dirs).unwrap();
        let mut easy =
            Transfer::start(req, tx, &mut HashSet::new(), None, None, Vec::new()).unwrap();
        let t = easy.get_mut();
        for (i, line) in lines.iter().enumerate() {
            if !Handler::header(t, line.as_bytes()) {
                break;
            }
            if body_at == Some(i) {
                Handler::write(t, b"body").unwrap();
            }
        }
        easy
    }

    fn names(t: &Transfer) -> Vec<String> {
        let names = t.final_headers.iter().map(|(n, _)| n.to_vec());
        names.map(|n| String::from_utf8(n).unwrap()).collect()
    }

    /// Rule: after the final block, trailers (even shaped like a status
    /// line) change neither the status nor the headers.
    #[test]
    fn trailers_change_nothing() {
        let mut easy = feed(
            &[
                "HTTP/1.1 404 Not Found\r\n",
                "Transfer-Encoding: chunked\r\n",
                "\r\n",
                "HTTP/1.1 200 OK: x\r\n",
                "X-Checksum: abc\r\n",
                " HTTP/1.1 200 OK\r\n",
            ],
            Some(2),
        );
        let t = easy.get_mut();
        assert_eq!(t.status, 404);
        assert_eq!(names(t), ["Transfer-Encoding"]);
        assert!(t.failure.is_none());
    }

    /// Rule: a block that a status-shaped line opened and a line ending a
    /// block closes is a response libcurl started (a request sent again
    /// after a 417): it replaces the final one, whose body libcurl dropped.
    #[test]
    fn a_response_libcurl_started_replaces_the_final_one() {
        let mut easy = feed(
            &[
                "HTTP/1.1 417 Expectation Failed\r\n",
                "Transfer-Encoding: chunked\r\n",
                "\r\n",
                "HTTP/1.1 200 OK: trailer\r\n",
                "HTTP/1.1 201 Created: y\r\n",
                "HTTP/1.1 500 Oops: a field\r\n",
                "Content-Length: 4\r\n",
                "\r\n",
            ],
            None,
        );
        let t = easy.get_mut();
        // Which is the status line cannot be told.
        assert_eq!(t.failure.as_ref().unwrap().kind, ErrorKind::Protocol);
        assert_eq!(t.status, 417);
        let mut easy = feed(
            &[
                "HTTP/1.1 417 Expectation Failed\r\n",
                "Transfer-Encoding: chunked\r\n",
                "\r\n",
                "X-Trailer: x\r\n",
                "HTTP/1.1 201 Created: y\r\n",
                "Content-Length: 4\r\n",
                "\r\n",
            ],
            None,
        );
        let t = easy.get_mut();
        assert_eq!(t.status, 201);
        assert_eq!(names(t), ["Content-Length"]);
        let mut easy = feed(
            &[
                "HTTP/1.1 417 Expectation Failed\r\n",
                "Content-Length: 0\r\n",
                "\r\n",
                "HTTP/1.1 200 OK\r\n",
                "HTTP/1.1 404 Not Found: a field\r\n",
                "\r\n",
            ],
            None,
        );
        let t = easy.get_mut();
        assert_eq!(t.status, 200);
        assert_eq!(names(t), ["HTTP/1.1 404 Not Found"]);
        assert_eq!(t.estimated, -1);
        // After a response without a chunked body no trailer can come: a
        // status line with a colon is one, and its fields are fields.
        let mut easy = feed(
            &[
                "HTTP/1.1 302 Found\r\n",
                "Location: /next\r\n",
                "Content-Length: 0\r\n",
                "\r\n",
                "HTTP/1.1 200 OK: fine\r\n",
                "HTTP/1.1 404 Not Found: a field\r\n",
                "\r\n",
            ],
            None,
        );
        let t = easy.get_mut();
        assert_eq!(t.status, 200);
        assert_eq!(names(t), ["HTTP/1.1 404 Not Found"]);
    }

    /// Rule: a block whose first line libcurl took for a status line by
    /// leniency (it reads `http/1.1 404` as a 200) fails the transfer.
    #[test]
    fn a_malformed_status_line_fails() {
        for first in ["http/1.1 404 Not Found\r\n", "HTTP/2 404\r\n"] {
            let mut easy = feed(&[first, "HTTP/1.1 200 OK: a field\r\n", "\r\n"], None);
            let t = easy.get_mut();
            assert_eq!(t.failure.as_ref().unwrap().kind, ErrorKind::Protocol);
        }
        // After a trailer shaped like a status line, one with a colon.
        let mut easy = feed(
            &[
                "HTTP/1.1 301 Moved\r\n",
                "Location: /next\r\n",
                "Transfer-Encoding: chunked\r\n",
                "\r\n",
                "HTTP/1.1 500 Oops: a trailer\r\n",
                "http/1.1 200 Not: Found\r\n",
                "\r\n",
            ],
            None,
        );
        let t = easy.get_mut();
        assert_eq!(t.failure.as_ref().unwrap().kind, ErrorKind::Protocol);
    }

    /// Rule: a transfer libcurl ends without an error has failed unless a
    /// final response's header block was complete (libcurl takes a
    /// connection closed inside a block for the end of the response).
    #[test]
    fn a_transfer_ends_after_a_final_block() {
        let cut = |lines: &[&str]| feed(lines, None).get_ref().cut_off().is_some();
        assert!(cut(&[]));
        assert!(cut(&["HTTP/1.1 404 Not Found\r\n", "X: y\r\n"]));
        assert!(cut(&["HTTP/1.1 100 Continue\r\n", "\r\n"]));
        let redirect = ["HTTP/1.1 302 Found\r\n", "Location: /x\r\n", "\r\n"];
        assert!(cut(&redirect));
        assert!(cut(&[&redirect[..], &["HTTP/1.1 200 OK: y\r\n"]].concat()));
        let chunked = [
            "HTTP/1.1 302 Found\r\n",
            "Location: /x\r\n",
            "Transfer-Encoding: chunked\r\n",
            "\r\n",
            "HTTP/1.1 200 OK: y\r\n",
        ];
        assert!(cut(&chunked));
        let done = [
            "HTTP/1.1 200 OK\r\n",
            "Transfer-Encoding: chunked\r\n",
            "\r\n",
        ];
        assert!(!cut(&done));
        assert!(!cut(
            &[&done[..], &["HTTP/1.1 200 OK: trailer\r\n"]].concat()
        ));
    }

    /// Rule: a response after body bytes were stored fails the transfer:
    /// two bodies would mix.
    #[test]
    fn a_second_response_after_a_body_fails() {
        let mut easy = feed(
            &["HTTP/1.1 200 OK\r\n", "\r\n", "HTTP/1.1 200 OK\r\n"],
            Some(1),
        );
        let t = easy.get_mut();
        assert_eq!(t.failure.as_ref().unwrap().kind, ErrorKind::Protocol);
    }

    /// Rule: header blocks as libcurl delimits them: interim 1xx blocks
    /// are skipped (a 101 is final), a line starting with CR ends a block,
    /// fields keep their names as sent and blank-trimmed values, folded
    /// lines continue the last value, a field may be named `HTTP/...`.
    #[test]
    fn blocks_as_libcurl_sees_them() {
        let mut easy = feed(
            &[
                "HTTP/1.1 100 Continue\r\n",
                "\r\n",
                "HTTP/1.1 103 Early Hints\r\n",
                "Link: </a>\r\n",
                "\r\n",
                "HTTP/1.1 404 Not: Found\r\n",
                "HTTP/1.1 200 OK: x\r\n",
                "Location :  /elsewhere \t\r\n",
                "X-Folded: a\r\n",
                " b\r\n",
                "Transfer-Encoding: chunked\r\n",
                "\rX\n",
                "HTTP/1.1 200 OK: trailer\r\n",
            ],
            None,
        );
        let t = easy.get_mut();
        assert_eq!(t.status, 404);
        let fields: Vec<(String, String)> = t
            .final_headers
            .iter()
            .map(|(n, v)| {
                (
                    String::from_utf8_lossy(n).into(),
                    String::from_utf8_lossy(v).into(),
                )
            })
            .collect();
        let want = [
            ("HTTP/1.1 200 OK", "x"),
            ("Location ", "/elsewhere"),
            ("X-Folded", "a b"),
            ("Transfer-Encoding", "chunked"),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        assert_eq!(fields, want);
        // A 101 libcurl did not ask for is the final response.
        let mut easy = feed(
            &["HTTP/1.1 101 Switching\r\n", "Upgrade: x\r\n", "\r\n"],
            None,
        );
        let t = easy.get_mut();
        assert_eq!((t.status, names(t)), (101, vec!["Upgrade".to_string()]));
    }
}
