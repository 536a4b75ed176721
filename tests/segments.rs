//! Segmented downloads: one file over several ranged connections, byte
//! exact with 1, 2, 8 and 16 segments; a segment's connection cut or
//! refused is fetched again from where its data ends; a server without
//! ranges, or a small file, gets one connection; a file that changes
//! mid-way starts over on one connection; integrity, cancel and resume
//! hold.

mod both_paths;
mod common;
mod support;

use std::time::Duration;

use common::*;
use netdl::{ErrorKind, Event, Fetch, Options, Phase};
use support::{sha256_hex, Asset, Fault, Server};

const MIB: u64 = 1024 * 1024;

fn segmented(n: u32) -> Options {
    Options {
        progress: true,
        fetch: Fetch {
            segments: n,
            retry_delay: Some(Duration::from_millis(5)),
            retry_max_delay: Some(Duration::from_millis(20)),
            ..Fetch::default()
        },
        ..Options::default()
    }
}

/// The `Range` header of every request to `path`, in arrival order.
fn ranges(server: &Server, path: &str) -> Vec<Option<String>> {
    let requests = server.requests_to(path);
    requests
        .iter()
        .map(|r| r.header("range").map(str::to_string))
        .collect()
}

/// Downloads `path` into `f.bin` with `opts`; checks the file is `data`,
/// nothing else is left, and progress never went back; returns the
/// events.
fn download(server: &Server, path: &str, opts: Options, data: &[u8]) -> Vec<Event> {
    let t = TestClient::new();
    let events = t.events_until_ended(
        t.download(&server.url(path), "f.bin", opts),
        Duration::from_secs(120),
    );
    let ended = events.last().unwrap();
    assert!(!ended.is_error(), "{:?}", ended.error);
    assert_eq!(ended.status, 200);
    assert_eq!(ended.bytes_transferred, data.len() as i64);
    assert!(
        std::fs::read(t.docs("f.bin")).unwrap() == data,
        "bytes differ"
    );
    assert_eq!(t.files(), vec![t.docs("f.bin")]);
    // Within an attempt progress never goes back (a start-over is a new
    // attempt, with its own `began`).
    let progress: Vec<(u32, i64)> = events
        .iter()
        .filter(|e| e.phase == Phase::Progress)
        .map(|e| (e.attempt, e.bytes_transferred))
        .collect();
    let back = |w: &[(u32, i64)]| w[0].0 == w[1].0 && w[0].1 > w[1].1;
    assert!(!progress.windows(2).any(back), "{progress:?}");
    assert!(progress.iter().all(|&(_, p)| p <= data.len() as i64));
    events
}

/// What the server sent for a file of `size` bytes: each byte once, plus
/// at most what the download's own connection had in flight when it was
/// closed at its segment's end (both sockets' buffers and libcurl's: up to
/// about 12 MiB on loopback, where the kernel grows them the most).
fn within_one_window(sent: u64, size: u64) -> bool {
    (size..=size + 16 * MIB).contains(&sent)
}

/// Rule: n segments are n connections, each asking its range (the first
/// is the download's own request); the file is byte-exact and its SHA-256
/// checked.
#[test]
fn byte_exact_with_1_2_8_16_segments() {
    let server = Server::start();
    for (n, size) in [(1u32, 8 * MIB), (2, 8 * MIB), (8, 32 * MIB), (16, 64 * MIB)] {
        let data = support::body(size as usize, u64::from(n));
        let path = format!("/s{n}.bin");
        server.put(&path, Asset::new(data.clone()));
        let mut opts = segmented(n);
        opts.fetch.sha256 = Some(netdl::request::parse_sha256(&sha256_hex(&data)).unwrap());
        let events = download(&server, &path, opts, &data);
        let ended = events.last().unwrap();
        let mut asked = ranges(&server, &path);
        assert_eq!(asked.remove(0), None, "n={n}: the first asks for the file");
        asked.sort();
        let mut want: Vec<Option<String>> = (1..u64::from(n))
            .map(|i| {
                let (a, b) = (size * i / u64::from(n), size * (i + 1) / u64::from(n));
                Some(format!("bytes={a}-{}", b - 1))
            })
            .collect();
        want.sort();
        assert_eq!(asked, want, "n={n}");
        let sent = server.body_bytes_sent(&path);
        assert!(within_one_window(sent, size), "n={n}: {sent} bytes sent");
        // Every connection's bytes count; none twice.
        let received = ended.bytes_received as u64;
        assert!(
            (size..=sent).contains(&received),
            "n={n}: {received} received"
        );
        // Every event shows the download's response.
        assert!(events
            .iter()
            .all(|e| e.status == 200 && e.header("content-range").is_none()));
    }
}

/// Rule: one connection when the server does not accept ranges, when it
/// has no strong validator, or when the file is under two segments'
/// minimum.
#[test]
fn one_connection_when_segments_cannot_be() {
    let server = Server::start();
    let data = support::body(16 * MIB as usize, 5);
    let cases = [
        Asset {
            ranges: false,
            ..Asset::new(data.clone())
        },
        Asset {
            etag: Some("W/\"weak\"".into()),
            last_modified: None,
            ..Asset::new(data.clone())
        },
        Asset::new(support::body(8 * MIB as usize - 1, 6)),
    ];
    for (i, asset) in cases.into_iter().enumerate() {
        let path = format!("/one{i}.bin");
        let data = asset.data.clone();
        server.put(&path, asset);
        download(&server, &path, segmented(8), &data);
        assert_eq!(ranges(&server, &path), vec![None], "case {i}");
    }
}

/// Rule: a segment whose connection fails (refused at once, reset
/// mid-way) is fetched again from where its data ends; so is the rest of
/// the first segment when the download's own connection fails.
#[test]
fn failed_segments_are_fetched_again() {
    let server = Server::start();
    let size = 16 * MIB;
    let data = support::body(size as usize, 7);
    let half = size / 2;
    let second = format!("bytes={half}-{}", size - 1);
    // Two segments: the download's own request, then the second half; the
    // retry's range, or where it starts (after what arrived before a reset).
    for (faults, retry) in [
        (vec![Fault::None, Fault::Close], second.clone()),
        (
            vec![Fault::None, Fault::ResetAt(half + 3 * MIB)],
            String::new(),
        ),
        (vec![Fault::CutAt(MIB)], format!("bytes={MIB}-{}", half - 1)),
    ] {
        server.put("/f.bin", Asset::new(data.clone()));
        let before = server.requests_to("/f.bin").len();
        server.script("/f.bin", faults.clone());
        download(&server, "/f.bin", segmented(2), &data);
        let asked = ranges(&server, "/f.bin").split_off(before);
        assert_eq!(asked.len(), 3, "{faults:?}: {asked:?}");
        assert_eq!(asked[0], None, "{faults:?}");
        let rest: Vec<String> = asked[1..].iter().flatten().cloned().collect();
        if retry.is_empty() {
            // After a reset: the rest of the second half, from where its
            // data ended (some of the 3 MiB may be lost with the reset).
            let i = rest
                .iter()
                .position(|r| *r == second)
                .expect("the second half");
            let other = &rest[1 - i];
            let from: u64 = other["bytes=".len()..]
                .split('-')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            assert!(other.ends_with(&format!("-{}", size - 1)), "{asked:?}");
            assert!((half..=half + 3 * MIB).contains(&from), "{asked:?}");
        } else {
            let mut got = rest.clone();
            let mut want = vec![second.clone(), retry];
            got.sort();
            want.sort();
            assert_eq!(got, want, "{faults:?}");
        }
    }
}

/// Rule: a segment that sees another file (its `If-Range` fails: a 200)
/// makes the download start over on one connection, with the new file.
#[test]
fn a_file_that_changes_starts_over_unsegmented() {
    let server = Server::start();
    let old = support::body(16 * MIB as usize, 8);
    let new = support::body(12 * MIB as usize, 9);
    server.put("/f.bin", Asset::new(old));
    server.script(
        "/f.bin",
        vec![Fault::None, Fault::Replace(Asset::new(new.clone()))],
    );
    download(&server, "/f.bin", segmented(2), &new);
    let asked = ranges(&server, "/f.bin");
    assert_eq!(asked.last().unwrap(), &None, "{asked:?}");
}

/// Rule: a wrong SHA-256 fails a segmented download like any other: the
/// target untouched, nothing left.
#[test]
fn integrity_holds() {
    let server = Server::start();
    let data = support::body(16 * MIB as usize, 10);
    server.put("/f.bin", Asset::new(data));
    let t = TestClient::new();
    std::fs::create_dir_all(t.docs("")).unwrap();
    std::fs::write(t.docs("f.bin"), b"old").unwrap();
    let mut opts = segmented(4);
    opts.fetch.sha256 = Some([7; 32]);
    let ev = t.ended(t.download(&server.url("/f.bin"), "f.bin", opts));
    assert_eq!(ev.error.map(|e| e.kind), Some(ErrorKind::Integrity));
    assert_eq!(std::fs::read(t.docs("f.bin")).unwrap(), b"old");
    assert_eq!(t.files(), vec![t.docs("f.bin")]);
    assert_eq!(server.requests_to("/f.bin").len(), 4);
}

/// Rule: a cancel stops every segment's connection and leaves nothing;
/// with `keep_partial` the data up to the first gap is kept, and the next
/// download continues it.
#[test]
fn cancel_and_resume() {
    let server = Server::start();
    let size = 32 * MIB;
    let data = support::body(size as usize, 11);
    server.put("/f.bin", Asset::new(data.clone()));
    for keep in [false, true] {
        // The download's own connection (the first request) stalls after
        // 2 MiB, the three others before their first byte (a stall after a
        // complete response would leave a dead connection in libcurl's
        // pool for the next request).
        let stalls = vec![
            Fault::StallAt(2 * MIB),
            Fault::StallAt(0),
            Fault::StallAt(0),
            Fault::StallAt(0),
        ];
        server.script("/f.bin", stalls);
        let t = TestClient::new();
        let mut opts = segmented(4);
        opts.fetch.keep_partial = keep;
        let id = t.download(&server.url("/f.bin"), "f.bin", opts);
        // Once data flows (a progress event reports what is on disk, but
        // not necessarily all of it: none follows the last chunk before a
        // stall).
        t.wait_for_bytes(id, 1);
        assert!(t.client.cancel(id));
        t.ended(
            t.client
                .request(&server.url("/bytes/1"), "GET", Options::default()),
        );
        let files = t.files();
        if !keep {
            assert!(files.is_empty(), "{files:?}");
            continue;
        }
        // The data up to the first gap (the first segment's, at most the
        // 2 MiB before its stall) is kept.
        let kept = std::fs::read(t.docs(".f.bin.netdl-partial")).unwrap();
        assert!((1..=2 * MIB as usize).contains(&kept.len()));
        assert!(kept == data[..kept.len()]);
        server.script("/f.bin", vec![]); // stalls the first one did not use
        let before = server.body_bytes_sent("/f.bin");
        let ev = t.ended(t.download(&server.url("/f.bin"), "f.bin", segmented(4)));
        assert!(!ev.is_error(), "{:?}", ev.error);
        assert!(std::fs::read(t.docs("f.bin")).unwrap() == data);
        let sent = server.body_bytes_sent("/f.bin") - before;
        assert!(within_one_window(sent, size - kept.len() as u64), "{sent}");
        assert_eq!(t.files(), vec![t.docs("f.bin")]);
    }
}

/// Every case above again with the named temporary file.
#[test]
fn named_temp_file_path_runs_every_case() {
    both_paths::rerun_named("named_temp_file_path_runs_every_case");
}
