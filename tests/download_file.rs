//! Downloads land byte-exact in their base directory, through a temporary
//! file, with exactly the events the reference promises. Every case runs
//! twice: on the unnamed temporary file, and on the named one
//! (`NETDL_TEMP_FILE=named`, in a child process).

mod both_paths;
mod common;
mod support;

use std::time::Duration;

use common::*;
use netdl::{Options, Phase, ResponseType};
use support::Server;

/// Rule: a 2xx body is saved byte for byte at `base_dir/filename`, and
/// `ended` is the only event when progress is off.
#[test]
fn saves_exact_bytes_with_only_ended() {
    let server = Server::start();
    let t = TestClient::new();
    let id = t.download(
        &server.url("/bytes/100000?seed=7"),
        "a.bin",
        Options::default(),
    );
    let events = t.events_until_ended(id, Duration::from_secs(10));
    assert_eq!(events.len(), 1, "{events:?}");
    let ev = &events[0];
    assert_eq!(ev.phase, Phase::Ended);
    assert!(!ev.is_error(), "{:?}", ev.error);
    assert_eq!(ev.status, 200);
    assert_eq!(ev.bytes_transferred, 100_000);
    assert_eq!(ev.bytes_estimated, 100_000);
    assert_eq!(ev.response_type, ResponseType::Binary);
    assert_eq!(ev.path().unwrap(), t.docs("a.bin"));
    assert_eq!(ev.url(), server.url("/bytes/100000?seed=7"));
    assert_eq!(ev.header("content-length").as_deref(), Some("100000"));
    assert!(ev.body.is_none());
    assert_eq!(
        std::fs::read(t.docs("a.bin")).unwrap(),
        support::body(100_000, 7)
    );
    assert_eq!(t.files(), vec![t.docs("a.bin")], "only the target remains");
}

/// Rule: with progress on: one `began` (status, headers, estimate known),
/// then `progress` events with non-decreasing counts, then `ended` with the
/// whole size.
#[test]
fn progress_sequence_is_began_progress_ended() {
    let server = Server::start();
    let t = TestClient::new();
    let id = t.download(
        &server.url("/slow/60000?chunk=6000&ms=30"),
        "p.bin",
        opts_progress(),
    );
    let events = t.events_until_ended(id, Duration::from_secs(10));
    let phases: Vec<Phase> = events.iter().map(|e| e.phase).collect();
    assert_eq!(phases[0], Phase::Began, "{phases:?}");
    assert_eq!(*phases.last().unwrap(), Phase::Ended);
    assert!(
        phases[1..phases.len() - 1]
            .iter()
            .all(|p| *p == Phase::Progress),
        "{phases:?}"
    );
    assert!(phases.len() >= 3, "at least one progress event: {phases:?}");
    let began = &events[0];
    assert_eq!(began.status, 200);
    assert_eq!(began.bytes_estimated, 60_000);
    assert_eq!(began.bytes_transferred, 0);
    assert!(began.header("content-length").is_some());
    let mut last = 0;
    for e in &events {
        assert!(e.bytes_transferred >= last, "counts never go down");
        assert_eq!(e.bytes_estimated, 60_000);
        last = e.bytes_transferred;
    }
    assert_eq!(events.last().unwrap().bytes_transferred, 60_000);
    assert_eq!(
        std::fs::read(t.docs("p.bin")).unwrap(),
        support::body(60_000, 0)
    );
}

/// Rule: missing subdirectories inside the base directory, and the base
/// directory itself, are created on first use.
#[test]
fn creates_missing_directories() {
    let server = Server::start();
    let t = TestClient::new();
    assert!(!t.docs("").exists());
    let id = t.download(
        &server.url("/bytes/10"),
        "deep/er/x.bin",
        Options::default(),
    );
    let ev = t.ended(id);
    assert!(!ev.is_error(), "{:?}", ev.error);
    assert_eq!(
        std::fs::read(t.docs("deep/er/x.bin")).unwrap(),
        support::body(10, 0)
    );
}

/// Rule: a successful download replaces an existing file atomically.
#[test]
fn replaces_existing_file() {
    let server = Server::start();
    let t = TestClient::new();
    std::fs::create_dir_all(t.docs("")).unwrap();
    std::fs::write(t.docs("r.bin"), b"old contents").unwrap();
    let ev = t.ended(t.download(&server.url("/bytes/5000"), "r.bin", Options::default()));
    assert!(!ev.is_error());
    assert_eq!(
        std::fs::read(t.docs("r.bin")).unwrap(),
        support::body(5000, 0)
    );
    assert!(no_temp_files(t.dir.path()));
}

/// Rule: while a download runs, the target keeps its old content and the
/// body goes to a temporary file: `.NAME.netdl-ID.part` beside the target
/// on the named path, a file without a name (nothing to see) on the
/// unnamed one. Cancelling it leaves the old target alone.
#[test]
fn target_untouched_while_the_body_is_in_a_temporary_file() {
    let server = Server::start();
    let t = TestClient::new();
    std::fs::create_dir_all(t.docs("")).unwrap();
    std::fs::write(t.docs("s.bin"), b"old contents").unwrap();
    let id = t.download(
        &server.url("/stall-after-headers?len=5000"),
        "s.bin",
        opts_progress(),
    );
    // `began`: the temporary file was made before the request was sent.
    let began = t.client.wait(Duration::from_secs(10));
    assert_eq!(began.len(), 1);
    assert_eq!((began[0].id, began[0].phase), (id, Phase::Began));
    let mut expected = both_paths::temp_files_while_writing(&t.docs("s.bin"), id);
    expected.push(t.docs("s.bin"));
    expected.sort();
    assert_eq!(t.files(), expected);
    assert_eq!(std::fs::read(t.docs("s.bin")).unwrap(), b"old contents");
    assert!(t.client.cancel(id));
    assert_eq!(std::fs::read(t.docs("s.bin")).unwrap(), b"old contents");
}

/// Every case above again, on the named temporary file.
#[test]
fn named_temp_file_path_runs_every_case() {
    both_paths::rerun_named("named_temp_file_path_runs_every_case");
}

/// Rule: an empty 2xx body gives an empty file; chunked bodies (no
/// Content-Length) report an estimate of -1 and arrive whole.
#[test]
fn empty_and_chunked_bodies() {
    let server = Server::start();
    let t = TestClient::new();
    let ev = t.ended(t.download(&server.url("/empty"), "e.bin", Options::default()));
    assert!(!ev.is_error());
    assert_eq!(ev.bytes_transferred, 0);
    assert_eq!(std::fs::read(t.docs("e.bin")).unwrap(), b"");

    let id = t.download(&server.url("/chunked/70000"), "c.bin", opts_progress());
    let events = t.events_until_ended(id, Duration::from_secs(10));
    assert_eq!(events[0].phase, Phase::Began);
    assert_eq!(events[0].bytes_estimated, -1);
    assert_eq!(events.last().unwrap().bytes_transferred, 70_000);
    assert_eq!(
        std::fs::read(t.docs("c.bin")).unwrap(),
        support::body(70_000, 0)
    );
}

/// Rule: a download asks for the file itself (`Accept-Encoding:
/// identity`) unless `compress` is set (then gzip and deflate); a gzip
/// response is decoded either way, with the estimate -1 because
/// Content-Length counts the encoded bytes.
#[test]
fn gzip_is_decoded() {
    let server = Server::start();
    let t = TestClient::new();
    let accept = |server: &Server| {
        server
            .last_request()
            .unwrap()
            .header("accept-encoding")
            .map(str::to_string)
    };
    for compress in [false, true] {
        let mut opts = Options::default();
        opts.fetch.compress = compress;
        let ev = t.ended(t.download(&server.url("/gzip/50000"), "g.bin", opts));
        assert!(!ev.is_error(), "{:?}", ev.error);
        assert_eq!(ev.bytes_transferred, 50_000);
        assert_eq!(ev.bytes_estimated, -1);
        assert_eq!(
            std::fs::read(t.docs("g.bin")).unwrap(),
            support::body(50_000, 0)
        );
        let want = if compress {
            "gzip, deflate"
        } else {
            "identity"
        };
        assert_eq!(accept(&server).as_deref(), Some(want));
    }
    // net_request keeps compression.
    t.ended(
        t.client
            .request(&server.url("/gzip/10"), "GET", Options::default()),
    );
    assert_eq!(accept(&server).as_deref(), Some("gzip, deflate"));
}
