//! `net_suspend` / `net_resume`: nothing moves while suspended, everything
//! finishes after, byte-exact.

mod both_paths;
mod cbuild;
mod common;
mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::{error_name, files_in, TestClient};
use netdl::{Fetch, Options, Phase};
use support::{Asset, Server};

const MIB: usize = 1024 * 1024;

/// The server's body bytes for `paths`, all requests.
fn sent(server: &Server, paths: &[String]) -> u64 {
    paths.iter().map(|p| server.body_bytes_sent(p)).sum()
}

/// Waits until the server has sent nothing more for 200 ms (the writes it
/// had begun failed or ended); fails after 10 s.
fn wait_until_quiet(server: &Server, paths: &[String]) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = (sent(server, paths), Instant::now());
    loop {
        assert!(
            Instant::now() < deadline,
            "bytes keep moving while suspended"
        );
        std::thread::sleep(Duration::from_millis(20)); // polling the server's count
        let now = sent(server, paths);
        if now != last.0 {
            last = (now, Instant::now());
        } else if last.1.elapsed() >= Duration::from_millis(200) {
            return now;
        }
    }
}

/// Rule (issue 14): suspended in the middle of 200 downloads, no byte
/// moves (measured at the server over a second), no event comes, requests
/// started meanwhile do not reach the server, cancels work silently; after
/// resume every download not cancelled completes byte-exact, and the
/// cancelled ones leave nothing.
#[test]
fn suspend_during_200_transfers() {
    let server = Server::start();
    let t = TestClient::new();
    let mut paths = Vec::new();
    let mut data = Vec::new();
    for i in 0..200 {
        let d = support::body(MIB, 7000 + i);
        let asset = Asset {
            rate: Some(4 * MIB as u64),
            ..Asset::new(d.clone())
        };
        let path = format!("/s{i}.bin");
        server.put(&path, asset);
        paths.push(path);
        data.push(d);
    }
    let mut ids = HashMap::new();
    for (i, path) in paths.iter().enumerate() {
        let id = t.download(&server.url(path), &format!("s{i}.bin"), Options::default());
        ids.insert(id, i);
    }
    // Suspended once some have ended: most are running or queued.
    let mut ended = HashMap::new();
    while ended.len() < 30 {
        for ev in t.client.wait(Duration::from_secs(10)) {
            assert_eq!(ev.phase, Phase::Ended);
            ended.insert(ev.id, ev);
        }
    }
    t.client.suspend();
    let quiet = wait_until_quiet(&server, &paths);
    // What the network thread sent before it saw the suspend.
    for ev in t.client.poll() {
        ended.insert(ev.id, ev);
    }
    let before = ended.len();
    assert!(before < 200, "all ended before the suspend took effect");
    let requests = server.requests();
    // Cancelled while suspended: silent, and gone for good.
    let cancelled: Vec<u64> = (ids.keys().copied())
        .filter(|id| !ended.contains_key(id))
        .take(10)
        .collect();
    for id in &cancelled {
        assert!(t.client.cancel(*id));
    }
    // Started while suspended: waits.
    let late = t.download(&server.url(&paths[0]), "late.bin", Options::default());
    std::thread::sleep(Duration::from_secs(1)); // the window measured: nothing may happen in it
    assert_eq!(sent(&server, &paths), quiet, "bytes moved while suspended");
    assert_eq!(server.requests(), requests, "a request reached the server");
    assert!(t.client.poll().is_empty(), "an event came while suspended");
    t.client.suspend(); // idempotent

    t.client.resume();
    t.client.resume();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut late_ended = None;
    while ended.len() < 200 - cancelled.len() || late_ended.is_none() {
        assert!(Instant::now() < deadline, "{} ended", ended.len());
        for ev in t.client.wait(Duration::from_millis(200)) {
            assert!(!cancelled.contains(&ev.id), "an event of a cancelled id");
            if ev.id == late {
                late_ended = Some(ev);
            } else {
                assert!(ended.insert(ev.id, ev).is_none(), "two ended events");
            }
        }
    }
    for (id, ev) in &ended {
        assert!(ev.error.is_none(), "{:?}", ev.error);
        assert_eq!(ev.status, 200);
        assert_eq!(ev.attempt, 1, "a suspend is not a retry");
        let i = ids[id];
        let got = std::fs::read(t.docs(&format!("s{i}.bin"))).unwrap();
        assert!(got == data[i], "s{i}.bin differs");
    }
    let late_ev = late_ended.unwrap();
    assert!(late_ev.error.is_none());
    assert!(std::fs::read(t.docs("late.bin")).unwrap() == data[0]);
    for id in &cancelled {
        assert!(!t.docs(&format!("s{}.bin", ids[id])).exists());
    }
    // Only targets: no temporary or partial file.
    assert_eq!(
        files_in(&t.dir.path().join("Documents")).len(),
        201 - cancelled.len()
    );
}

/// Rule: an interrupted download continues by a `Range` request after
/// resume (one `began`, flags RESUMED on the end, status 200), and an
/// in-memory request starts again and delivers the whole body.
#[test]
fn resume_continues_downloads_and_restarts_requests() {
    let server = Server::start();
    let file = support::body(8 * MIB, 11);
    let asset = Asset {
        rate: Some(4 * MIB as u64),
        ..Asset::new(file.clone())
    };
    server.put("/big.bin", asset.clone());
    server.put("/mem.bin", asset);
    let t = TestClient::new();
    let opts = common::opts_progress();
    let d = t.download(&server.url("/big.bin"), "big.bin", opts.clone());
    let r = t.client.request(&server.url("/mem.bin"), "GET", opts);
    t.wait_for_bytes(d, (2 * MIB) as i64);
    t.client.suspend();
    let paths = ["/big.bin".to_string(), "/mem.bin".to_string()];
    wait_until_quiet(&server, &paths);
    let _ = t.client.poll();
    t.client.resume();
    let events = t.events_until_ended(d, Duration::from_secs(30));
    let end = events.last().unwrap();
    assert!(end.error.is_none(), "{:?}", end.error);
    assert_eq!(end.status, 200);
    assert_ne!(end.flags & netdl::event::flags::RESUMED, 0);
    let begans = events.iter().filter(|e| e.phase == Phase::Began).count();
    assert!(
        begans <= 1,
        "one began only (the first may have been polled away)"
    );
    assert!(std::fs::read(t.docs("big.bin")).unwrap() == file);
    let reqs = server.requests_to("/big.bin");
    assert_eq!(reqs.len(), 2);
    let range = reqs[1]
        .header("range")
        .expect("the second asks for the rest");
    let from: usize = range["bytes=".len()..range.len() - 1].parse().unwrap();
    assert!(from >= 2 * MIB, "continued from {from}");
    assert!(server.body_bytes_sent("/big.bin") < (file.len() + 4 * MIB) as u64);

    let end = t.ended(r);
    assert!(end.error.is_none(), "{:?}", end.error);
    assert!(end.body.as_deref() == Some(&file[..]), "the whole body");
}

/// Rule: shutdown while suspended stops at once and leaves no temporary
/// file; a persisted download keeps its data and record, and the next
/// process restores it from there.
#[test]
fn suspend_then_shutdown() {
    let server = Server::start();
    let file = support::body(8 * MIB, 12);
    let asset = Asset {
        rate: Some(4 * MIB as u64),
        ..Asset::new(file.clone())
    };
    server.put("/p.bin", asset.clone());
    server.put("/t.bin", asset);
    let t = TestClient::new();
    let persist = Options {
        progress: true,
        fetch: Fetch {
            persist: true,
            tag: Some(netdl::request::check_tag("the-p").unwrap()),
            ..Fetch::default()
        },
        ..Options::default()
    };
    let p = t.download(&server.url("/p.bin"), "p.bin", persist);
    let plain = t.download(&server.url("/t.bin"), "t.bin", common::opts_progress());
    t.wait_for_bytes(p, (2 * MIB) as i64);
    t.wait_for_bytes(plain, (2 * MIB) as i64);
    t.client.suspend();
    let started = Instant::now();
    let t = t.restarted();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "shutdown waited"
    );
    let docs = files_in(&t.dir.path().join("Documents"));
    let names: Vec<String> = (docs.iter())
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        vec![".p.bin.netdl-partial"],
        "only the persisted data"
    );
    assert_eq!(t.client.restore(), 1);
    let ev = t.client.wait(Duration::from_secs(5));
    let began = &ev[0];
    assert_eq!(began.phase, Phase::Began);
    assert_eq!(began.tag().as_deref(), Some("the-p"));
    assert!(began.bytes_transferred >= (2 * MIB) as i64);
    let end = t.ended(began.id);
    assert!(end.error.is_none(), "{:?}", end.error);
    assert!(std::fs::read(t.docs("p.bin")).unwrap() == file);
    let reqs = server.requests_to("/p.bin");
    assert!(reqs.last().unwrap().header("range").is_some(), "continued");
}

/// Names the switch file of `tests/c/fail_truncate.c`: while it exists,
/// `ftruncate` fails with EIO in the process the shim is loaded into.
const FAIL_TRUNCATE: &str = "NETDL_TEST_FAIL_TRUNCATE";

/// Rule: a download whose data cannot be readied to go on when suspended
/// (no validator, so it must start over, and emptying its file fails)
/// ends at once with NET_ERROR_IO -- a local failure, the one `ended` a
/// suspend lets through -- and loses nothing: the file it would have
/// replaced is untouched, no temporary file is left, it is not asked for
/// again, and the other download goes on by `Range` after resume.
#[test]
fn data_not_readied_at_a_suspend_ends_its_download() {
    const TEST: &str = "data_not_readied_at_a_suspend_ends_its_download";
    let Some(switch) = std::env::var_os(FAIL_TRUNCATE) else {
        // Runs itself again with the shim loaded (on the temporary-file
        // path of this process: the named one in `named_temp_file_path_runs_every_case`).
        let dir = tempfile::tempdir().unwrap();
        let shim = dir.path().join("fail_truncate.so");
        cbuild::compile_preload(&cbuild::root().join("tests/c/fail_truncate.c"), &shim);
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", TEST, "--test-threads=1"])
            .env(FAIL_TRUNCATE, dir.path().join("failing"))
            .env("LD_PRELOAD", &shim)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("test result: ok. 1 passed"),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    };
    let server = Server::start();
    let file = support::body(8 * MIB, 13);
    let paced = Asset {
        rate: Some(4 * MIB as u64),
        ..Asset::new(file.clone())
    };
    server.put("/kept.bin", paced.clone());
    let bare = Asset {
        etag: None,
        last_modified: None,
        ..paced
    };
    server.put("/bare.bin", bare);
    let t = TestClient::new();
    std::fs::create_dir_all(t.docs("")).unwrap();
    std::fs::write(t.docs("bare.bin"), b"the old file").unwrap();
    let kept = t.download(
        &server.url("/kept.bin"),
        "kept.bin",
        common::opts_progress(),
    );
    let bare = t.download(
        &server.url("/bare.bin"),
        "bare.bin",
        common::opts_progress(),
    );
    t.wait_for_bytes(kept, MIB as i64);
    t.wait_for_bytes(bare, MIB as i64);
    std::fs::write(&switch, b"").unwrap();
    t.client.suspend();
    let end = t.ended(bare);
    std::fs::remove_file(&switch).unwrap();
    assert_eq!(error_name(&end), "NET_ERROR_IO", "{:?}", end.error);
    let msg = &end.error.as_ref().unwrap().message;
    assert!(
        msg.starts_with("cannot empty the download's file: "),
        "{msg:?}"
    );
    let paths = ["/kept.bin".to_string(), "/bare.bin".to_string()];
    wait_until_quiet(&server, &paths);
    let early = t.client.poll();
    assert!(
        early
            .iter()
            .all(|e| e.id == kept && e.phase != Phase::Ended),
        "{early:?}"
    );
    t.client.resume();
    let end = t.ended(kept);
    assert!(end.error.is_none(), "{:?}", end.error);
    assert!(std::fs::read(t.docs("kept.bin")).unwrap() == file);
    assert_eq!(std::fs::read(t.docs("bare.bin")).unwrap(), b"the old file");
    assert_eq!(server.requests_to("/bare.bin").len(), 1, "asked for again");
    let reqs = server.requests_to("/kept.bin");
    assert_eq!(reqs.len(), 2);
    assert!(reqs[1].header("range").is_some(), "continued by Range");
    assert_eq!(t.files(), vec![t.docs("bare.bin"), t.docs("kept.bin")]);
}

/// The cases above again on the named temporary file (`NETDL_TEMP_FILE=named`,
/// netdl's fallback where unnamed files cannot be linked in): there a
/// persisted download writes `.NAME.netdl-partial` from its first byte.
#[test]
fn named_temp_file_path_runs_every_case() {
    both_paths::rerun_named("named_temp_file_path_runs_every_case");
}
