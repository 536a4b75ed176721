//! Only if changed: a download with `if_changed` records the validators of
//! the file it saved; the next one asks `If-None-Match` /
//! `If-Modified-Since`, and a 304 ends successfully with the file
//! untouched and `NET_EVENT_UNCHANGED`. Against the test server's assets
//! and against nginx.

mod common;
mod support;

use std::time::Duration;

use common::*;
use netdl::event::flags::UNCHANGED;
use netdl::{Event, Fetch, Options};
use support::{Asset, Fault, Nginx, Server};

fn if_changed() -> Options {
    Options {
        fetch: Fetch {
            if_changed: true,
            ..Fetch::default()
        },
        ..Options::default()
    }
}

fn get(t: &TestClient, url: &str, opts: Options) -> Event {
    let ev = t.ended(t.download(url, "f.bin", opts));
    assert!(!ev.is_error(), "{:?}", ev.error);
    ev
}

fn conditional(server: &Server, i: usize) -> (Option<String>, Option<String>) {
    let r = &server.requests_to("/f.bin")[i];
    let own = |v: Option<&str>| v.map(str::to_string);
    (
        own(r.header("if-none-match")),
        own(r.header("if-modified-since")),
    )
}

/// Rule: unchanged (304, no body, file untouched), changed (200, replaced),
/// changed on disk by someone else or no validator (a plain download),
/// and no `if_changed` (a plain download).
#[test]
fn against_the_test_server() {
    let server = Server::start();
    let v1 = Asset::new(support::body(300_000, 1));
    let (etag, date) = (v1.etag.clone(), v1.last_modified.clone());
    server.put("/f.bin", v1.clone());
    let url = server.url("/f.bin");
    let t = TestClient::new();

    let ev = get(&t, &url, if_changed());
    assert_eq!((ev.status, ev.flags), (200, 0));
    assert_eq!(conditional(&server, 0), (None, None));
    let mtime = || {
        std::fs::metadata(t.docs("f.bin"))
            .unwrap()
            .modified()
            .unwrap()
    };
    let saved_at = mtime();

    // Unchanged: a 304, no body, the file as it was.
    let sent = server.body_bytes_sent("/f.bin");
    let ev = get(&t, &url, if_changed());
    assert_eq!(
        (ev.status, ev.flags, ev.bytes_transferred),
        (304, UNCHANGED, 0)
    );
    assert_eq!(ev.path(), Some(t.docs("f.bin")));
    assert_eq!(conditional(&server, 1), (etag.clone(), date.clone()));
    assert_eq!(server.body_bytes_sent("/f.bin"), sent);
    assert!(std::fs::read(t.docs("f.bin")).unwrap() == *v1.data);
    assert_eq!(mtime(), saved_at);

    // Without the option: no question asked.
    let ev = get(&t, &url, Options::default());
    assert_eq!((ev.status, ev.flags), (200, 0));
    assert_eq!(conditional(&server, 2), (None, None));
    // That download did not record: the file is not the one recorded.
    let ev = get(&t, &url, if_changed());
    assert_eq!(ev.status, 200);
    assert_eq!(conditional(&server, 3), (None, None));

    // Changed on the server: a 200 replaces the file.
    let v2 = Asset::new(support::body(200_000, 2));
    server.script("/f.bin", vec![Fault::Replace(v2.clone())]);
    let ev = get(&t, &url, if_changed());
    assert_eq!((ev.status, ev.flags), (200, 0));
    assert_eq!(conditional(&server, 4), (etag, date));
    assert!(std::fs::read(t.docs("f.bin")).unwrap() == *v2.data);
    let ev = get(&t, &url, if_changed());
    assert_eq!((ev.status, ev.flags), (304, UNCHANGED));

    // Changed on disk by someone else: downloaded again.
    std::fs::write(t.docs("f.bin"), b"edited").unwrap();
    let ev = get(&t, &url, if_changed());
    assert_eq!(ev.status, 200);
    assert_eq!(conditional(&server, 6), (None, None));
    assert!(std::fs::read(t.docs("f.bin")).unwrap() == *v2.data);

    // No validator at all: the record goes, and every download after that
    // is a plain one.
    let bare = Asset {
        etag: None,
        last_modified: None,
        ..Asset::new(support::body(1000, 3))
    };
    server.script("/f.bin", vec![Fault::Replace(bare.clone())]);
    let asked = [
        (v2.etag.clone(), v2.last_modified.clone()),
        (None, None),
        (None, None),
    ];
    for (i, want) in (7..).zip(asked) {
        let ev = get(&t, &url, if_changed());
        assert_eq!(ev.status, 200);
        assert_eq!(conditional(&server, i), want);
    }
    assert!(std::fs::read(t.docs("f.bin")).unwrap() == *bare.data);
}

/// Rule: the same against nginx (its own ETag and Last-Modified).
#[test]
fn against_nginx() {
    let root = tempfile::tempdir().unwrap();
    let v1 = support::body(100_000, 4);
    std::fs::write(root.path().join("f.bin"), &v1).unwrap();
    let nginx = Nginx::start(root.path()).expect("nginx (scripts/deps.sh installs nginx-light)");
    let url = nginx.url("/f.bin");
    let t = TestClient::new();
    let ev = get(&t, &url, if_changed());
    assert_eq!((ev.status, ev.flags), (200, 0));
    assert!(ev.header("etag").is_some());
    let ev = get(&t, &url, if_changed());
    assert_eq!((ev.status, ev.flags), (304, UNCHANGED));
    assert!(std::fs::read(t.docs("f.bin")).unwrap() == v1);
    // A new version (another size and time: another ETag).
    let v2 = support::body(120_000, 5);
    let file = std::fs::File::options()
        .write(true)
        .open(root.path().join("f.bin"))
        .unwrap();
    std::io::Write::write_all(&mut &file, &v2).unwrap();
    file.set_modified(std::time::SystemTime::now() + Duration::from_secs(5))
        .unwrap();
    drop(file);
    let ev = get(&t, &url, if_changed());
    assert_eq!((ev.status, ev.flags), (200, 0));
    assert!(std::fs::read(t.docs("f.bin")).unwrap() == v2);
}
