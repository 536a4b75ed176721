//! ABI stability: a C program compiled against the header as released at
//! 0.1 (tests/abi/netdl-0.1.h, kept as it was) runs against the current
//! library. Fields added since come out of `reserved`, and zero means
//! their default, so its 160-byte `net_params` and 192-byte `net_event`
//! with the 0.1 fields and enum values must keep working.

mod cbuild;
mod support;

use support::Server;

/// Rule: tests/abi/old_client.c, built with only the 0.1 header, passes
/// all its checks (downloads with began/progress/ended, requests into
/// memory with headers and bodies, redirects and limits, bad requests'
/// error codes, a cancel) against this library.
#[test]
fn client_built_against_0_1_header_runs() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("old_client");
    let abi = cbuild::root().join("tests/abi");
    cbuild::compile(&[&abi.join("old_client.c")], &abi, &exe);
    let docs = dir.path().join("docs");
    std::fs::create_dir(&docs).unwrap();
    let out = cbuild::run(&exe)
        .arg(server.url(""))
        .arg(&docs)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout, "old client: all checks passed\n");
    // The files, checked here too.
    let old = docs.join("old");
    assert_eq!(
        std::fs::read(old.join("slow.bin")).unwrap(),
        support::body(60_000, 0)
    );
    assert_eq!(
        std::fs::read(old.join("plain.bin")).unwrap(),
        support::body(20_000, 7)
    );
    let mut left: Vec<_> = std::fs::read_dir(&old)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    left.sort();
    assert_eq!(left, ["plain.bin", "slow.bin"]);
}

/// Rule: the saved 0.1 header is the one released: `net_params` and
/// `net_event` end in `reserved[8]` and it has no `net_queue`.
#[test]
fn saved_header_is_0_1() {
    let text = std::fs::read_to_string(cbuild::root().join("tests/abi/netdl-0.1.h")).unwrap();
    assert_eq!(text.matches("uint64_t reserved[8];").count(), 2);
    assert!(!text.contains("net_queue"));
    assert!(text.contains("  bool progress;"));
}
