//! Bad arguments never crash and are never reported out of band: the call
//! returns an id and its one `ended` event says what was wrong.

mod common;
mod support;

use common::*;
use netdl::{BaseDir, Options, Phase};

fn check(t: &TestClient, id: u64, expected: &str, mentions: &str) {
    assert_ne!(id, 0);
    let events = t.events_until_ended(id, std::time::Duration::from_secs(5));
    assert_eq!(events.len(), 1);
    let ev = &events[0];
    assert_eq!(ev.phase, Phase::Ended);
    assert_eq!(error_name(ev), expected, "{:?}", ev.error);
    let msg = &ev.error.as_ref().unwrap().message;
    assert!(
        msg.contains(mentions),
        "message {msg:?} should mention {mentions:?}"
    );
}

/// Rule: malformed URLs are NET_ERROR_INVALID_ARGUMENT, other schemes
/// NET_ERROR_UNSUPPORTED_SCHEME, each with a specific message.
#[test]
fn bad_urls() {
    let t = TestClient::new();
    let d = |url: &str| t.download(url, "x.bin", Options::default());
    check(&t, d(""), "NET_ERROR_INVALID_ARGUMENT", "empty");
    check(&t, d("not a url"), "NET_ERROR_INVALID_ARGUMENT", "' '");
    check(&t, d("http://"), "NET_ERROR_INVALID_ARGUMENT", "no host");
    check(
        &t,
        d("http://127.0.0.1/é"),
        "NET_ERROR_INVALID_ARGUMENT",
        "percent-encode",
    );
    let long = format!("http://127.0.0.1/{}", "a".repeat(1 << 20));
    check(&t, d(&long), "NET_ERROR_INVALID_ARGUMENT", "limit");
    for s in ["file", "ftp", "gopher", "dict", "ldap"] {
        check(
            &t,
            d(&format!("{s}://127.0.0.1/x")),
            "NET_ERROR_UNSUPPORTED_SCHEME",
            s,
        );
    }
}

/// Rule: bad methods and headers (CR/LF injection included) are rejected.
#[test]
fn bad_methods_and_headers() {
    let t = TestClient::new();
    let url = "http://127.0.0.1:9/x";
    for m in ["", "GET\r\nX: y", "G T"] {
        check(
            &t,
            t.client.request(url, m, Options::default()),
            "NET_ERROR_INVALID_ARGUMENT",
            "method",
        );
    }
    for (k, v) in [
        ("X-A\r\n", "v"),
        ("", "v"),
        ("X-A", "v\r\nInjected: 1"),
        ("X-A", "v\nw"),
    ] {
        let opts = Options {
            headers: vec![(k.into(), v.into())],
            ..Options::default()
        };
        check(
            &t,
            t.client.request(url, "GET", opts),
            "NET_ERROR_INVALID_ARGUMENT",
            "header",
        );
    }
    let opts = Options {
        timeout: Some(std::time::Duration::ZERO),
        ..Options::default()
    };
    check(
        &t,
        t.client.request(url, "GET", opts),
        "NET_ERROR_INVALID_ARGUMENT",
        "timeout",
    );
}

/// Rule: filenames must stay inside their base directory; the resource
/// directory is read-only.
#[test]
fn bad_filenames_and_directories() {
    let t = TestClient::new();
    let url = "http://127.0.0.1:9/x";
    let d = |f: &str, dir| t.client.download(url, "GET", Options::default(), f, dir);
    check(
        &t,
        d("", BaseDir::Documents),
        "NET_ERROR_INVALID_ARGUMENT",
        "empty",
    );
    check(
        &t,
        d("/etc/passwd", BaseDir::Documents),
        "NET_ERROR_INVALID_ARGUMENT",
        "absolute",
    );
    check(
        &t,
        d("../escape", BaseDir::Documents),
        "NET_ERROR_INVALID_ARGUMENT",
        "..",
    );
    check(
        &t,
        d("a/../../b", BaseDir::Documents),
        "NET_ERROR_INVALID_ARGUMENT",
        "..",
    );
    check(
        &t,
        d("dir/", BaseDir::Documents),
        "NET_ERROR_INVALID_ARGUMENT",
        "directory",
    );
    check(
        &t,
        d("x.bin", BaseDir::Resource),
        "NET_ERROR_INVALID_ARGUMENT",
        "read-only",
    );
}

/// Rule: a base directory that cannot be created, or one that is not
/// writable, is reported when the transfer starts, before any network
/// traffic; a target that is an existing directory is reported when the
/// body would replace it (no stat per download), and the directory and
/// its folder are left as they were (no temporary file).
#[test]
fn unusable_directories() {
    let server = support::Server::start();
    let t = TestClient::new();
    let url = server.url("/bytes/10");

    let blocker = t.dir.path().join("plainfile");
    std::fs::write(&blocker, b"x").unwrap();
    t.client
        .set_directory(BaseDir::Caches, &blocker.join("sub"))
        .unwrap();
    let id = t
        .client
        .download(&url, "GET", Options::default(), "x.bin", BaseDir::Caches);
    check(&t, id, "NET_ERROR_IO", "cannot create");

    if unsafe { libc::geteuid() } != 0 {
        use std::os::unix::fs::PermissionsExt;
        let ro = t.dir.path().join("ro");
        std::fs::create_dir(&ro).unwrap();
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
        t.client.set_directory(BaseDir::Temporary, &ro).unwrap();
        let id = t
            .client
            .download(&url, "GET", Options::default(), "x.bin", BaseDir::Temporary);
        check(&t, id, "NET_ERROR_IO", "cannot create");
    }
    assert_eq!(server.requests(), 0, "nothing was sent");

    std::fs::create_dir_all(t.docs("adir/inside")).unwrap();
    check(
        &t,
        t.download(&url, "adir", Options::default()),
        "NET_ERROR_INVALID_ARGUMENT",
        "is a directory",
    );
    assert!(t.docs("adir/inside").is_dir(), "the directory is untouched");
    assert!(no_temp_files(t.dir.path()), "{:?}", t.files());
}
