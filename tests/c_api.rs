//! The C side: the committed header compiles cleanly as C11 and C++17 and
//! survives double inclusion; the C programs build with -Wall -Wextra
//! -Werror and pass against a loopback server.

mod cbuild;
mod support;

use std::path::Path;
use std::process::Command;

use cbuild::{root, run, valgrind};
use support::Server;

/// Compiles C `sources` into `out` against the committed header.
fn compile(sources: &[&Path], out: &Path) {
    cbuild::compile(sources, &root().join("include"), out);
}

/// Rule: the header compiles as C11 -pedantic and as C++17, included twice.
#[test]
fn header_compiles_as_c_and_cpp() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("twice.c");
    std::fs::write(
        &src,
        "#include \"netdl.h\"\n#include \"netdl.h\"\nint main(void) { return net_poll(0, 0) == 0 ? 0 : 1; }\n",
    )
    .unwrap();
    compile(&[&src], &dir.path().join("c"));
    cbuild::compile_cxx(&[&src], &root().join("include"), &dir.path().join("cpp"));
    assert!(Command::new(dir.path().join("c"))
        .status()
        .unwrap()
        .success());
    assert!(Command::new(dir.path().join("cpp"))
        .status()
        .unwrap()
        .success());
}

/// Rule: examples-c/download.c builds warning-free and downloads a file
/// byte for byte, printing began, progress and ended.
#[test]
fn example_download_runs() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("download");
    compile(&[&root().join("examples-c/download.c")], &exe);
    let out_dir = dir.path().join("out");
    let out = run(&exe)
        .arg(server.url("/bytes/250000?seed=5"))
        .arg("game/asset.bin")
        .arg(&out_dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("began status=200 estimated=250000"),
        "{stdout}"
    );
    assert!(stdout.contains("ended status=200 bytes=250000"), "{stdout}");
    let saved = std::fs::read(out_dir.join("game/asset.bin")).unwrap();
    assert_eq!(saved, support::body(250_000, 5));
}

/// Rule: examples-c/resilient.c (the README's resume example) gets a
/// verified file past a refused URL and a mirror that cuts the connection:
/// its retry resumes on the mirror.
#[test]
fn example_resilient_runs() {
    let server = Server::start();
    let data = support::body(3_000_000, 21);
    server.put("/pack.bin", support::Asset::new(data.clone()));
    server.script("/pack.bin", vec![support::Fault::CutAt(1_000_000)]);
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("resilient");
    compile(&[&root().join("examples-c/resilient.c")], &exe);
    let mirror = server.url("/pack.bin");
    let out = run(&exe)
        .arg(support::sha256_hex(&data))
        .arg(data.len().to_string())
        .arg("pack.bin")
        .arg(dir.path().join("out"))
        .arg(support::refused_url())
        .arg(&mirror)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            // The refused URL took attempts 1 to 6 (5 retries).
            "began attempt=7 from=0 of=3000000".to_string(),
            "began attempt=8 from=1000000 of=3000000 resumed".into(),
            format!("ended status=200 attempt=8 bytes=3000000 received=3000000 url={mirror}"),
        ]
    );
    assert!(std::fs::read(dir.path().join("out/pack.bin")).unwrap() == data);
}

/// Rule: examples-c/epoll.c, driven only by epoll on `net_event_fd` (no
/// sleep, no frame loop), downloads 100 files byte for byte, printing each
/// one's `ended` line once, woken at most once per event (no progress:
/// one event per file).
#[test]
fn example_epoll_runs() {
    const FILES: usize = 100;
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("epoll");
    compile(&[&root().join("examples-c/epoll.c")], &exe);
    let out_dir = dir.path().join("out");
    let size = |i: usize| 1 + (i * 7919) % 50_000;
    let urls = (0..FILES).map(|i| server.url(&format!("/bytes/{}?seed={i}", size(i))));
    let out = run(&exe).arg(&out_dir).args(urls).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines: Vec<&str> = stdout.lines().collect();
    let summary = lines.pop().unwrap();
    let wakeups: usize = summary
        .strip_prefix(&format!("done files={FILES} failed=0 wakeups="))
        .unwrap_or_else(|| panic!("{summary}"))
        .parse()
        .unwrap();
    assert!((1..=FILES).contains(&wakeups), "{summary}");
    lines.sort();
    let mut expected: Vec<String> = (0..FILES)
        .map(|i| format!("ended {i} status=200 bytes={}", size(i)))
        .collect();
    expected.sort();
    assert_eq!(lines, expected);
    for i in 0..FILES {
        let saved = std::fs::read(out_dir.join(format!("{i}.bin"))).unwrap();
        assert!(
            saved == support::body(size(i), i as u64),
            "file {i} differs"
        );
    }
}

/// Rule: the ABI checks in tests/c/abi_test.c all pass (NULLs, invalid
/// UTF-8, enum ranges, reserved fields, calls after net_shutdown).
#[test]
fn c_abi_checks_pass() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("abi_test");
    compile(&[&root().join("tests/c/abi_test.c")], &exe);
    let docs = dir.path().join("docs");
    let out = run(&exe)
        .arg(server.url("/bytes/20000"))
        .arg(&docs)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read(docs.join("sub/c.bin")).unwrap(),
        support::body(20_000, 0)
    );
}

/// Rule: events reach their request's queue and no other, exactly once,
/// with two queues polled from two threads and the default queue from
/// the main thread (10,000 requests); a queue's event memory is its own;
/// destroying a queue with requests in flight ends nothing elsewhere
/// (tests/c/queues_test.c).
#[test]
fn c_event_queues_pass() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("queues_test");
    compile(&[&root().join("tests/c/queues_test.c")], &exe);
    let out = run(&exe)
        .arg(server.url("/bytes/100"))
        .arg(server.url("/slow/100000?chunk=1000&ms=50"))
        .arg("100")
        .arg(if valgrind() { "1500" } else { "10000" })
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Rule: examples-c/persist.c (the README's suspend-and-restart example)
/// starts two persisted, tagged downloads and goes through a suspend; killed
/// after that, its next run restores both (RESTORED `began` with the tag
/// and the data so far) and finishes them byte for byte.
#[test]
fn example_persist_survives_a_kill() {
    use std::io::{BufRead, BufReader};
    let server = Server::start();
    let files: Vec<Vec<u8>> = (0..2).map(|i| support::body(4 << 20, 40 + i)).collect();
    for (i, data) in files.iter().enumerate() {
        let asset = support::Asset {
            rate: Some(2 << 20),
            ..support::Asset::new(data.clone())
        };
        server.put(&format!("/level{i}.pak"), asset);
    }
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("persist");
    compile(&[&root().join("examples-c/persist.c")], &exe);
    let out = dir.path().join("game");
    let mut first = run(&exe)
        .arg(&out)
        .arg(server.url("/level0.pak"))
        .arg(server.url("/level1.pak"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let lines: Vec<String> = BufReader::new(first.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .take_while(|l| l != "resumed")
        .collect();
    first.kill().unwrap(); // SIGKILL, mid-download
    first.wait().unwrap();
    assert_eq!(lines, ["restored 0", "suspended"]);

    let second = run(&exe).arg(&out).output().unwrap();
    let stdout = String::from_utf8_lossy(&second.stdout);
    assert!(second.status.success(), "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "restored 2", "{stdout}");
    for (i, file) in files.iter().enumerate() {
        let began = (lines.iter())
            .find(|l| l.starts_with(&format!("began level-{i} restored from=")))
            .unwrap_or_else(|| panic!("no began of level-{i}: {stdout}"));
        let from: u64 = began.rsplit('=').next().unwrap().parse().unwrap();
        assert!(from < 4 << 20, "{began}");
        assert!(
            lines.contains(&format!("ended level-{i} status=200 bytes=4194304").as_str()),
            "{stdout}"
        );
        let got = std::fs::read(out.join(format!("levels/{i}.pak"))).unwrap();
        assert!(got == *file, "level {i} differs");
    }
    // At least one continued from where the killed run left it.
    let ranged = (0..2)
        .filter(|i| {
            let reqs = server.requests_to(&format!("/level{i}.pak"));
            reqs.last().unwrap().header("range").is_some()
        })
        .count();
    assert!(ranged >= 1, "no download continued by Range");
}
