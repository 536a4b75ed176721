//! Downloads that finish anyway: a connection cut mid-file is resumed by
//! `Range` + `If-Range` under `max_retries`, byte-exact, without sending
//! the file twice; every response that cannot continue the data makes the
//! download start over; the expected size and SHA-256 are checked; mirrors
//! take over in order. Against the test server's assets and their scripted
//! faults.

mod both_paths;
mod common;
mod support;

use std::time::{Duration, Instant};

use common::*;
use netdl::{ErrorKind, Event, Fetch, Options, Phase};
use support::{sha256_hex, Asset, Fault, Server};

const MIB: usize = 1024 * 1024;

/// Retries fast: 5 ms backoff base, 20 ms cap.
fn retrying(max_retries: u32) -> Options {
    Options {
        fetch: Fetch {
            max_retries,
            retry_delay: Some(Duration::from_millis(5)),
            retry_max_delay: Some(Duration::from_millis(20)),
            ..Fetch::default()
        },
        ..Options::default()
    }
}

fn error_kind(ev: &Event) -> Option<ErrorKind> {
    ev.error.as_ref().map(|e| e.kind)
}

/// The `Range` and `If-Range` headers of every request to `path`.
fn ranges(server: &Server, path: &str) -> Vec<(Option<String>, Option<String>)> {
    let own = |v: Option<&str>| v.map(str::to_string);
    server
        .requests_to(path)
        .iter()
        .map(|r| (own(r.header("range")), own(r.header("if-range"))))
        .collect()
}

fn ok_ended(t: &TestClient, id: u64) -> Event {
    let ev = t
        .events_until_ended(id, Duration::from_secs(60))
        .pop()
        .unwrap();
    assert!(!ev.is_error(), "{:?}", ev.error);
    assert_eq!(ev.status, 200);
    ev
}

/// Rule: a download cut at 30 %, 60 % and 90 % of a 64 MiB file finishes
/// with `max_retries`, byte-exact; each retry asks for the rest with
/// `If-Range`; the server sends at most 1.1 times the file; `began` of a
/// resumed attempt starts at the bytes on disk; `bytes_received` counts
/// what came over the network.
#[test]
fn cut_three_times_resumes_byte_exact() {
    let server = Server::start();
    let data = support::body(64 * MIB, 7);
    let len = data.len() as u64;
    let asset = Asset::new(data.clone());
    let etag = asset.etag.clone().unwrap();
    server.put("/big.bin", asset);
    let cuts = [len * 3 / 10, len * 6 / 10, len * 9 / 10];
    server.script("/big.bin", cuts.iter().map(|&c| Fault::CutAt(c)).collect());
    let t = TestClient::new();
    let opts = Options {
        progress: true,
        ..retrying(3)
    };
    let events = t.events_until_ended(
        t.download(&server.url("/big.bin"), "big.bin", opts),
        Duration::from_secs(120),
    );
    let ended = events.last().unwrap();
    assert!(!ended.is_error(), "{:?}", ended.error);
    assert_eq!((ended.status, ended.attempt), (200, 4));
    assert_eq!(ended.bytes_transferred, len as i64);
    assert_eq!(
        ended.flags & netdl::event::flags::RESUMED,
        netdl::event::flags::RESUMED
    );
    assert!(
        std::fs::read(t.docs("big.bin")).unwrap() == data,
        "bytes differ"
    );
    let sent = server.body_bytes_sent("/big.bin");
    assert!(sent as f64 <= 1.1 * len as f64, "sent {sent} of {len}");
    assert_eq!(ended.bytes_received, sent as i64);
    // One `began` per attempt, each starting where the data ended.
    let began: Vec<(u32, i64, i64)> = events
        .iter()
        .filter(|e| e.phase == Phase::Began)
        .map(|e| (e.attempt, e.bytes_transferred, e.bytes_estimated))
        .collect();
    let mut want = vec![(1, 0, len as i64)];
    want.extend((2..).zip(cuts).map(|(a, c)| (a, c as i64, len as i64)));
    assert_eq!(began, want);
    let mut want = vec![(None, None)];
    want.extend(cuts.map(|c| (Some(format!("bytes={c}-")), Some(etag.clone()))));
    assert_eq!(ranges(&server, "/big.bin"), want);
    assert!(no_temp_files(t.dir.path()));
    assert_eq!(t.files(), vec![t.docs("big.bin")]);
}

/// One download of an asset scripted with `faults`, `max_retries` 3;
/// returns the ended event after checking the file is `want`.
fn run(server: &Server, faults: Vec<Fault>, want: &[u8]) -> Event {
    server.script("/f.bin", faults);
    let t = TestClient::new();
    let ev = ok_ended(&t, t.download(&server.url("/f.bin"), "f.bin", retrying(3)));
    assert!(
        std::fs::read(t.docs("f.bin")).unwrap() == want,
        "bytes differ"
    );
    assert!(no_temp_files(t.dir.path()));
    ev
}

/// Rule: the validator changed between attempts: `If-Range` fails, the
/// server sends the new file whole, and the download starts over with it.
#[test]
fn changed_validator_starts_over() {
    let server = Server::start();
    let old = support::body(MIB, 1);
    let new = support::body(MIB, 2);
    server.put("/f.bin", Asset::new(old));
    let ev = run(
        &server,
        vec![
            Fault::CutAt(300_000),
            Fault::Replace(Asset::new(new.clone())),
        ],
        &new,
    );
    assert_eq!(ev.flags & netdl::event::flags::RESUMED, 0);
    assert_eq!(server.body_bytes_sent("/f.bin"), 300_000 + MIB as u64);
}

/// Rule: a server that ignores `Range` (a 200 to the retry) starts over.
#[test]
fn ignored_range_starts_over() {
    let server = Server::start();
    let data = support::body(MIB, 3);
    server.put("/f.bin", Asset::new(data.clone()));
    run(
        &server,
        vec![Fault::CutAt(500_000), Fault::IgnoreRange],
        &data,
    );
    assert_eq!(server.body_bytes_sent("/f.bin"), 500_000 + MIB as u64);
}

/// Rule: a weak ETag (and no Last-Modified) gives no resume: the retry
/// asks for the whole file.
#[test]
fn weak_etag_does_not_resume() {
    let server = Server::start();
    let data = support::body(MIB, 4);
    let asset = Asset {
        etag: Some("W/\"weak\"".into()),
        last_modified: None,
        ..Asset::new(data.clone())
    };
    server.put("/f.bin", asset);
    run(&server, vec![Fault::CutAt(400_000)], &data);
    assert_eq!(ranges(&server, "/f.bin"), vec![(None, None), (None, None)]);
}

/// Rule: without an ETag, Last-Modified is the validator of `If-Range`.
#[test]
fn last_modified_resumes() {
    let server = Server::start();
    let data = support::body(MIB, 5);
    let asset = Asset {
        etag: None,
        ..Asset::new(data.clone())
    };
    let date = asset.last_modified.clone();
    server.put("/f.bin", asset);
    run(&server, vec![Fault::CutAt(400_000)], &data);
    assert_eq!(
        ranges(&server, "/f.bin"),
        vec![(None, None), (Some("bytes=400000-".into()), date)]
    );
    assert_eq!(server.body_bytes_sent("/f.bin"), MIB as u64);
}

/// Rule: a 206 that does not continue the data (wrong start, wrong total)
/// and a 416 that does not say the file is complete make the download
/// start over from the first byte, once.
#[test]
fn bad_continuations_start_over() {
    let server = Server::start();
    let data = support::body(MIB, 6);
    server.put("/f.bin", Asset::new(data.clone()));
    for fault in [
        Fault::ContentRangeOffset(5),
        Fault::ContentRangeOffset(-5),
        Fault::ContentRangeTotal(MIB as u64 + 1),
        Fault::Answer416,
    ] {
        let before = server.requests_to("/f.bin").len();
        let ev = run(&server, vec![Fault::CutAt(200_000), fault.clone()], &data);
        assert_eq!(ev.attempt, 3, "{fault:?}");
        let tried = ranges(&server, "/f.bin").split_off(before);
        let resumed = (
            Some("bytes=200000-".to_string()),
            Some(Asset::new(data.clone()).etag.unwrap()),
        );
        assert_eq!(
            tried,
            vec![(None, None), resumed, (None, None)],
            "{fault:?}"
        );
    }
}

/// Rule (classification): transient failures are retried, others are not.
/// Each case: the faults, then whether it ends well, its error and status,
/// and how many requests reached the server.
#[test]
fn what_is_retried() {
    let server = Server::start();
    let data = support::body(10_000, 8);
    server.put("/f.bin", Asset::new(data.clone()));
    for (faults, error, status, requests) in [
        (vec![Fault::Status(503, None)], None, 200, 2),
        (vec![Fault::Status(500, None)], None, 200, 2),
        (vec![Fault::Status(502, None)], None, 200, 2),
        (vec![Fault::Status(504, None)], None, 200, 2),
        (vec![Fault::Status(408, None)], None, 200, 2),
        (vec![Fault::Status(429, None)], None, 200, 2),
        (vec![Fault::Close], None, 200, 2),
        (vec![Fault::ResetAt(5000)], None, 200, 2),
        (vec![Fault::Status(404, None)], None, 404, 1),
        (vec![Fault::Status(403, None)], None, 403, 1),
        (vec![Fault::Status(501, None)], None, 501, 1),
        (
            vec![Fault::Status(503, None); 4],
            None,
            503, // gave up: the last attempt's status
            4,
        ),
    ] {
        let before = server.requests_to("/f.bin").len();
        server.script("/f.bin", faults.clone());
        let t = TestClient::new();
        let ev = t.ended(t.download(&server.url("/f.bin"), "f.bin", retrying(3)));
        assert_eq!(error_kind(&ev), error, "{faults:?}");
        assert_eq!(ev.status, status, "{faults:?}");
        assert_eq!(
            server.requests_to("/f.bin").len() - before,
            requests,
            "{faults:?}"
        );
        assert_eq!(ev.attempt as usize, requests, "{faults:?}");
        if status == 200 {
            assert!(std::fs::read(t.docs("f.bin")).unwrap() == data);
        } else {
            assert!(!t.docs("f.bin").exists());
        }
        server.script("/f.bin", vec![]);
    }
    // Could not connect: every attempt, then the last error.
    let t = TestClient::new();
    let ev = t.ended(t.download(&support::refused_url(), "x.bin", retrying(2)));
    assert_eq!((error_kind(&ev), ev.attempt), (Some(ErrorKind::Connect), 3));
    // Timeout: retried, and resumed.
    let server = Server::start();
    let data = support::body(200_000, 9);
    server.put("/f.bin", Asset::new(data.clone()));
    server.script("/f.bin", vec![Fault::StallAt(100_000)]);
    let t = TestClient::new();
    let opts = Options {
        timeout: Some(Duration::from_millis(300)),
        ..retrying(1)
    };
    let ev = ok_ended(&t, t.download(&server.url("/f.bin"), "f.bin", opts));
    assert_eq!(ev.attempt, 2);
    assert!(std::fs::read(t.docs("f.bin")).unwrap() == data);
    // TLS failures are never retried (the test CA is not trusted here).
    let tls = Server::start_tls();
    let t = TestClient::new();
    let ev = t.ended(t.download(&tls.url("/bytes/10"), "x.bin", retrying(3)));
    assert_eq!((error_kind(&ev), ev.attempt), (Some(ErrorKind::Tls), 1));
    assert_eq!(tls.connections(), 1);
}

/// Rule: the wait before retry n is at most min(cap, base * 2^(n-1)), and
/// a `Retry-After` replaces it.
#[test]
fn backoff_and_retry_after() {
    let t = TestClient::new();
    let opts = Options {
        fetch: Fetch {
            max_retries: 3,
            retry_delay: Some(Duration::from_millis(100)),
            retry_max_delay: Some(Duration::from_millis(200)),
            ..Fetch::default()
        },
        ..Options::default()
    };
    let start = Instant::now();
    let ev = t.ended(t.download(&support::refused_url(), "x.bin", opts));
    let took = start.elapsed();
    assert_eq!(ev.attempt, 4);
    // At most 100 + 200 + 200 ms of waits (plus generous slack).
    assert!(took < Duration::from_millis(500 + 1500), "{took:?}");

    let server = Server::start();
    server.put("/f.bin", Asset::new(support::body(1000, 1)));
    server.script("/f.bin", vec![Fault::Status(503, Some("1".into()))]);
    let start = Instant::now();
    let ev = ok_ended(&t, t.download(&server.url("/f.bin"), "f.bin", retrying(1)));
    let took = start.elapsed();
    assert_eq!(ev.attempt, 2);
    assert!(
        took >= Duration::from_secs(1),
        "Retry-After: 1 ignored ({took:?})"
    );
    assert!(took < Duration::from_secs(4), "{took:?}");
}

/// Rule: a cancel during the backoff is immediate and silent: no event,
/// no further request, no file.
#[test]
fn cancel_during_backoff() {
    let server = Server::start();
    server.put("/f.bin", Asset::new(support::body(1000, 1)));
    server.script("/f.bin", vec![Fault::Status(503, Some("30".into()))]);
    let t = TestClient::new();
    let id = t.download(&server.url("/f.bin"), "f.bin", retrying(1));
    // The first attempt's answer has arrived when the server counts it and
    // the request is still live (its retry waits 30 s).
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.requests_to("/f.bin").is_empty() {
        assert!(Instant::now() < deadline, "no request");
        assert!(t.client.wait(Duration::from_millis(10)).is_empty());
    }
    let start = Instant::now();
    assert!(t.client.cancel(id));
    assert!(start.elapsed() < Duration::from_millis(100));
    assert!(t.client.wait(Duration::from_millis(300)).is_empty());
    assert_eq!(server.requests_to("/f.bin").len(), 1);
    assert!(t.files().is_empty(), "{:?}", t.files());
}

fn checked(size: Option<u64>, sha256: Option<&str>) -> Options {
    let mut o = retrying(0);
    o.fetch.expected_size = size;
    o.fetch.sha256 = sha256.map(|h| netdl::request::parse_sha256(h).unwrap());
    o
}

/// Rule: the expected size and SHA-256 are checked; any mismatch is
/// NET_ERROR_INTEGRITY with the old file untouched and nothing left; a
/// size announced wrong fails before the body is downloaded.
#[test]
fn integrity() {
    let server = Server::start();
    let data = support::body(4 * MIB, 10);
    let len = data.len() as u64;
    let hash = sha256_hex(&data);
    server.put("/f.bin", Asset::new(data.clone()));
    let t = TestClient::new();
    let old = b"the old version";
    let fresh = |t: &TestClient| {
        std::fs::create_dir_all(t.docs("")).unwrap();
        std::fs::write(t.docs("f.bin"), old).unwrap();
    };
    let url = server.url("/f.bin");
    fresh(&t);
    ok_ended(
        &t,
        t.download(&url, "f.bin", checked(Some(len), Some(&hash))),
    );
    assert!(std::fs::read(t.docs("f.bin")).unwrap() == data);
    let wrong_hash = sha256_hex(b"something else");
    // A size announced wrong is caught before the body: of a 64 MiB file,
    // at most what the sockets' buffers took before the connection closed.
    let big = support::body(64 * MIB, 15);
    let big_len = big.len() as u64;
    server.put("/big.bin", Asset::new(big));
    for (path, opts, sent_at_most) in [
        ("/f.bin", checked(None, Some(&wrong_hash)), len),
        ("/f.bin", checked(Some(len), Some(&wrong_hash)), len),
        ("/big.bin", checked(Some(big_len + 1), None), big_len / 4),
        (
            "/big.bin",
            checked(Some(big_len - 1), Some(&hash)),
            big_len / 4,
        ),
    ] {
        fresh(&t);
        let before = server.body_bytes_sent(path);
        let ev = t.ended(t.download(&server.url(path), "f.bin", opts.clone()));
        assert_eq!(
            error_kind(&ev),
            Some(ErrorKind::Integrity),
            "{:?}",
            opts.fetch
        );
        assert_eq!(std::fs::read(t.docs("f.bin")).unwrap(), old);
        assert_eq!(t.files(), vec![t.docs("f.bin")]);
        let sent = server.body_bytes_sent(path) - before;
        assert!(
            sent <= sent_at_most,
            "{sent} bytes sent for {:?}",
            opts.fetch
        );
    }
    // Upper-case hex is the same hash.
    fresh(&t);
    let upper = hash.to_uppercase();
    ok_ended(&t, t.download(&url, "f.bin", checked(None, Some(&upper))));
}

/// Rule: a file resumed from several responses that fails its hash starts
/// over once from the first byte (the source may have changed it between
/// attempts without changing its validator).
#[test]
fn resumed_file_with_a_bad_hash_starts_over() {
    let server = Server::start();
    let good = support::body(MIB, 11);
    let mut bad = good.clone();
    bad[MIB - 1] ^= 1; // the same validator, another last byte
    let bad_asset = Asset {
        data: std::sync::Arc::new(bad),
        ..Asset::new(good.clone())
    };
    server.put("/f.bin", Asset::new(good.clone()));
    server.script(
        "/f.bin",
        vec![
            Fault::CutAt(500_000),
            Fault::Replace(bad_asset),
            Fault::Replace(Asset::new(good.clone())),
        ],
    );
    let t = TestClient::new();
    let mut opts = checked(None, Some(&sha256_hex(&good)));
    opts.fetch.max_retries = 1;
    let ev = ok_ended(&t, t.download(&server.url("/f.bin"), "f.bin", opts));
    assert_eq!(ev.attempt, 3);
    assert!(std::fs::read(t.docs("f.bin")).unwrap() == good);
    assert_eq!(ranges(&server, "/f.bin")[2], (None, None));
}

/// Rule: mirrors are tried in order; the `ended` event's URL is the one
/// that delivered the last byte; data continues on a mirror with the same
/// validator.
#[test]
fn mirrors_in_order() {
    let server = Server::start();
    let data = support::body(2 * MIB, 12);
    let asset = Asset::new(data.clone());
    server.put("/b.bin", asset.clone());
    server.put("/c.bin", asset);
    server.script("/b.bin", vec![Fault::CutAt(MIB as u64)]);
    let t = TestClient::new();
    let mut opts = retrying(0);
    opts.fetch.mirrors = vec![server.url("/b.bin"), server.url("/c.bin")];
    let ev = ok_ended(&t, t.download(&support::refused_url(), "m.bin", opts));
    assert!(std::fs::read(t.docs("m.bin")).unwrap() == data);
    assert_eq!((ev.url(), ev.attempt), (server.url("/c.bin"), 3));
    // The third source continued the second's data (same ETag).
    assert_eq!(server.body_bytes_sent("/c.bin"), MIB as u64);
    assert_eq!(
        ev.flags & netdl::event::flags::RESUMED,
        netdl::event::flags::RESUMED
    );
}

/// Rule: across mirrors whose validators differ, data continues only when
/// a SHA-256 will check the result; otherwise the next one sends it all.
#[test]
fn mirrors_resume_only_when_allowed() {
    let server = Server::start();
    let data = support::body(2 * MIB, 13);
    let other_etag = Asset {
        etag: Some("\"another-server\"".into()),
        last_modified: None,
        ..Asset::new(data.clone())
    };
    for (sha256, c_sent) in [
        (None, 2 * MIB as u64),
        (Some(sha256_hex(&data)), MIB as u64),
    ] {
        server.put("/b.bin", Asset::new(data.clone()));
        server.put("/c.bin", other_etag.clone());
        let c_before = server.body_bytes_sent("/c.bin");
        server.script("/b.bin", vec![Fault::CutAt(MIB as u64)]);
        let t = TestClient::new();
        let mut opts = checked(None, sha256.as_deref());
        opts.fetch.mirrors = vec![server.url("/c.bin")];
        let ev = ok_ended(&t, t.download(&server.url("/b.bin"), "m.bin", opts));
        assert!(std::fs::read(t.docs("m.bin")).unwrap() == data);
        assert_eq!(ev.attempt, 2);
        assert_eq!(
            server.body_bytes_sent("/c.bin") - c_before,
            c_sent,
            "sha256 {sha256:?}"
        );
    }
}

/// Rule: a request into memory is retried too (from the first byte).
#[test]
fn requests_retry_from_the_start() {
    let server = Server::start();
    let data = support::body(300_000, 14);
    server.put("/f.bin", Asset::new(data.clone()));
    server.script("/f.bin", vec![Fault::CutAt(100_000)]);
    let t = TestClient::new();
    let ev = t.ended(t.client.request(&server.url("/f.bin"), "GET", retrying(1)));
    assert!(!ev.is_error(), "{:?}", ev.error);
    assert_eq!((ev.status, ev.attempt), (200, 2));
    assert!(ev.body.as_deref() == Some(&data[..]));
    assert_eq!(ranges(&server, "/f.bin"), vec![(None, None), (None, None)]);
}

/// Every file under the test's folders, relative to it.
fn relative_files(t: &TestClient) -> Vec<String> {
    let root = t.dir.path();
    let names = t.files().into_iter();
    names
        .map(|p| p.strip_prefix(root).unwrap().to_string_lossy().into_owned())
        .collect()
}

/// Rule: a download that failed keeps its partial data beside the target
/// (and a record in the caches folder); a later download of the same URL
/// to the same file, in another process, continues it; nothing is left
/// afterwards.
#[test]
fn failed_download_is_continued_by_the_next_one() {
    let server = Server::start();
    let data = support::body(2 * MIB, 16);
    let asset = Asset::new(data.clone());
    let etag = asset.etag.clone();
    server.put("/f.bin", asset);
    server.script("/f.bin", vec![Fault::CutAt(700_000)]);
    let t = TestClient::new();
    let url = server.url("/f.bin");
    let ev = t.ended(t.download(&url, "f.bin", Options::default()));
    assert_eq!(error_kind(&ev), Some(ErrorKind::Network));
    let files = relative_files(&t);
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(files.contains(&"Documents/.f.bin.netdl-partial".to_string()));
    assert!(files.iter().any(|f| f.starts_with("Caches/partial/")));
    assert_eq!(
        std::fs::read(t.docs(".f.bin.netdl-partial")).unwrap(),
        data[..700_000]
    );

    let t = t.restarted();
    let ev = ok_ended(&t, t.download(&url, "f.bin", Options::default()));
    assert_eq!(
        ev.flags & netdl::event::flags::RESUMED,
        netdl::event::flags::RESUMED
    );
    assert_eq!(
        (ev.bytes_transferred, ev.bytes_received),
        (2 * MIB as i64, 2 * MIB as i64 - 700_000)
    );
    assert!(std::fs::read(t.docs("f.bin")).unwrap() == data);
    assert_eq!(
        ranges(&server, "/f.bin")[1],
        (Some("bytes=700000-".into()), etag)
    );
    assert_eq!(server.body_bytes_sent("/f.bin"), 2 * MIB as u64);
    assert_eq!(relative_files(&t), vec!["Documents/f.bin".to_string()]);
}

/// Rule: a cancel deletes the partial data unless `keep_partial` is set;
/// kept data of another URL is not continued (and is deleted).
#[test]
fn cancel_and_other_urls() {
    let server = Server::start();
    let data = support::body(4 * MIB, 17);
    server.put("/f.bin", Asset::new(data.clone()));
    server.put("/g.bin", Asset::new(data.clone()));
    let url = server.url("/f.bin");
    for keep in [false, true] {
        server.script("/f.bin", vec![Fault::StallAt(MIB as u64)]);
        let t = TestClient::new();
        let mut opts = Options {
            progress: true,
            ..Options::default()
        };
        opts.fetch.keep_partial = keep;
        let id = t.download(&url, "f.bin", opts);
        // Cancel once data flows.
        t.wait_for_bytes(id, 1);
        assert!(t.client.cancel(id));
        // The cancel is handled on the network thread: a request after it
        // ends after it.
        t.ended(
            t.client
                .request(&server.url("/bytes/1"), "GET", Options::default()),
        );
        let files = relative_files(&t);
        if !keep {
            assert!(files.is_empty(), "{files:?}");
            continue;
        }
        assert_eq!(files.len(), 2, "{files:?}");
        // Another URL to the same file: the kept data is not continued.
        let before = server.body_bytes_sent("/g.bin");
        let ev = ok_ended(
            &t,
            t.download(&server.url("/g.bin"), "f.bin", Options::default()),
        );
        assert_eq!(ev.flags, 0);
        assert_eq!(server.body_bytes_sent("/g.bin") - before, 4 * MIB as u64);
        assert!(std::fs::read(t.docs("f.bin")).unwrap() == data);
        assert_eq!(relative_files(&t), vec!["Documents/f.bin".to_string()]);
    }
}

/// Rule: a 416 to the retry of data that is already whole (a chunked
/// response cut before its last chunk) completes the download without a
/// byte more. A raw server: the first connection sends the file chunked
/// and closes before the last chunk; the second must ask for the rest and
/// gets a 416 `bytes */LEN` with the same ETag.
#[test]
fn complete_data_and_a_416() {
    use std::io::{BufRead, BufReader, Write};
    let data = support::body(100_000, 18);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/f.bin", listener.local_addr().unwrap());
    let len = data.len();
    let body = data.clone();
    let server = std::thread::spawn(move || {
        let mut asked = Vec::new();
        for i in 0..2 {
            let (mut conn, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut head = Vec::new();
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line == "\r\n" || line.is_empty() {
                    break;
                }
                head.push(line.trim_end().to_string());
            }
            asked.push(head);
            if i == 0 {
                let mut out =
                    b"HTTP/1.1 200 OK\r\nETag: \"e1\"\r\nTransfer-Encoding: chunked\r\n\r\n"
                        .to_vec();
                out.extend_from_slice(format!("{len:x}\r\n").as_bytes());
                out.extend_from_slice(&body);
                out.extend_from_slice(b"\r\n");
                conn.write_all(&out).unwrap();
            } else {
                let out = format!(
                    "HTTP/1.1 416 Range Not Satisfiable\r\nETag: \"e1\"\r\nContent-Range: bytes */{len}\r\nContent-Length: 0\r\n\r\n"
                );
                conn.write_all(out.as_bytes()).unwrap();
            }
        }
        asked
    });
    let t = TestClient::new();
    let ev = ok_ended(&t, t.download(&url, "f.bin", retrying(1)));
    assert_eq!((ev.attempt, ev.bytes_transferred), (2, len as i64));
    assert_eq!(
        ev.flags & netdl::event::flags::RESUMED,
        netdl::event::flags::RESUMED
    );
    assert!(std::fs::read(t.docs("f.bin")).unwrap() == data);
    let asked = server.join().unwrap();
    assert!(
        asked[1].contains(&format!("Range: bytes={len}-")),
        "{:?}",
        asked[1]
    );
    assert!(
        asked[1].contains(&"If-Range: \"e1\"".to_string()),
        "{:?}",
        asked[1]
    );
    assert_eq!(relative_files(&t), vec!["Documents/f.bin".to_string()]);
}

/// Every case above again with the named temporary file (the fallback
/// where unnamed files cannot be linked in): kept data is renamed, not
/// linked in.
#[test]
fn named_temp_file_path_runs_every_case() {
    both_paths::rerun_named("named_temp_file_path_runs_every_case");
}
