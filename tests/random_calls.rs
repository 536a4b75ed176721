//! Random sequences of download / request / cancel / poll / wait /
//! shutdown calls with random arguments against the fault server
//! (proptest). Whatever the sequence: no panic, at most one `ended` per
//! id, nothing after a successful cancel, exactly one of the two for every
//! id once everything is drained, and no temporary file left.
//!
//! `PROPTEST_CASES=1000 cargo test --test random_calls` runs it longer.

mod common;
mod support;

use std::collections::HashSet;
use std::time::Duration;

use common::*;
use netdl::{BaseDir, Options, Phase};
use proptest::prelude::*;
use support::Server;

const PATHS: &[&str] = &[
    "/bytes/3000",
    "/bytes/0",
    "/status/404",
    "/redirect/2",
    "/redirect-loop",
    "/close-mid-body/5000",
    "/reset-mid-body/5000",
    "/slow/4000?chunk=1000&ms=20",
    "/stall-after-headers?len=100",
    "/gzip/2000",
    "/malformed",
];
const BAD_URLS: &[&str] = &[
    "",
    "ftp://127.0.0.1/x",
    "http://",
    "http://a b/",
    "gopher://h/",
];
const FILENAMES: &[&str] = &[
    "a.bin",
    "d/e.bin",
    "",
    "../up.bin",
    "/abs.bin",
    "d/",
    "same.bin",
];
const METHODS: &[&str] = &["GET", "post", "HEAD", "", "BAD METHOD", "PATCH"];

#[derive(Clone, Debug)]
enum Op {
    Download {
        url: usize,
        file: usize,
        method: usize,
        dir: u32,
        progress: bool,
    },
    Request {
        url: usize,
        method: usize,
        progress: bool,
    },
    Cancel(usize),
    Poll,
    Wait(u64),
    Shutdown,
}

fn op() -> impl Strategy<Value = Op> {
    let url = 0..PATHS.len() + BAD_URLS.len() + 1;
    prop_oneof![
        4 => (url.clone(), 0..FILENAMES.len(), 0..METHODS.len(), 0u32..5, any::<bool>())
            .prop_map(|(url, file, method, dir, progress)| Op::Download { url, file, method, dir, progress }),
        2 => (url, 0..METHODS.len(), any::<bool>()).prop_map(|(url, method, progress)| Op::Request { url, method, progress }),
        3 => (0usize..40).prop_map(Op::Cancel),
        3 => Just(Op::Poll),
        1 => (0u64..30).prop_map(Op::Wait),
        1 => Just(Op::Shutdown),
    ]
}

/// What the test saw per id.
#[derive(Default)]
struct Seen {
    ended: HashSet<u64>,
    cancelled: HashSet<u64>,
}

impl Seen {
    fn take(&mut self, events: Vec<netdl::Event>) {
        for ev in events {
            assert!(
                !self.cancelled.contains(&ev.id),
                "event after cancel: {ev:?}"
            );
            assert!(!self.ended.contains(&ev.id), "event after ended: {ev:?}");
            if ev.phase == Phase::Ended {
                self.ended.insert(ev.id);
            }
        }
    }
}

fn url(server: &Server, refused: &str, i: usize) -> String {
    match i {
        i if i < PATHS.len() => server.url(PATHS[i]),
        i if i < PATHS.len() + BAD_URLS.len() => BAD_URLS[i - PATHS.len()].to_string(),
        _ => refused.to_string(),
    }
}

fn run(server: &Server, ops: &[Op]) {
    let t = TestClient::new();
    let refused = support::refused_url();
    let mut ids = Vec::new();
    let mut seen = Seen::default();
    let mut shut = false;
    let opts = |progress| Options {
        progress,
        timeout: Some(Duration::from_secs(2)),
        ..Options::default()
    };
    for op in ops {
        match op {
            Op::Download {
                url: u,
                file,
                method,
                dir,
                progress,
            } => {
                let dir = BaseDir::try_from(*dir).unwrap();
                let id = t.client.download(
                    &url(server, &refused, *u),
                    METHODS[*method],
                    opts(*progress),
                    FILENAMES[*file],
                    dir,
                );
                assert_eq!(id == 0, shut);
                if id != 0 {
                    ids.push(id);
                }
            }
            Op::Request {
                url: u,
                method,
                progress,
            } => {
                let id = t.client.request(
                    &url(server, &refused, *u),
                    METHODS[*method],
                    opts(*progress),
                );
                assert_eq!(id == 0, shut);
                if id != 0 {
                    ids.push(id);
                }
            }
            Op::Cancel(i) => {
                let id = ids.get(*i).copied().unwrap_or(*i as u64 + 1_000);
                if t.client.cancel(id) {
                    assert!(
                        !seen.ended.contains(&id),
                        "cancel true after ended was delivered"
                    );
                    assert!(seen.cancelled.insert(id));
                }
            }
            Op::Poll => seen.take(t.client.poll()),
            Op::Wait(ms) => seen.take(t.client.wait(Duration::from_millis(*ms))),
            Op::Shutdown => {
                t.client.shutdown();
                shut = true;
            }
        }
    }
    if !shut {
        // Drain: cancel what still runs after a grace period, then sync.
        let open = |seen: &Seen| {
            ids.iter()
                .any(|id| !seen.ended.contains(id) && !seen.cancelled.contains(id))
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while open(&seen) && std::time::Instant::now() < deadline {
            seen.take(t.client.wait(Duration::from_millis(50)));
        }
        for id in &ids {
            if !seen.ended.contains(id) && !seen.cancelled.contains(id) {
                assert!(t.client.cancel(*id), "{id} is live, so cancel must win");
                seen.cancelled.insert(*id);
            }
        }
        // It may reuse a connection the server left stalled (e.g. after a
        // HEAD of /stall-after-headers) and then time out: still a sync.
        let sync = t
            .client
            .request(&server.url("/bytes/1"), "GET", opts(false));
        loop {
            let evs = t.client.wait(Duration::from_secs(10));
            assert!(!evs.is_empty(), "sync request stalled");
            let done = evs.iter().any(|e| e.id == sync);
            seen.take(evs.into_iter().filter(|e| e.id != sync).collect());
            if done {
                break;
            }
        }
        for id in &ids {
            assert!(
                seen.ended.contains(id) != seen.cancelled.contains(id),
                "id {id}"
            );
        }
    }
    assert!(no_temp_files(t.dir.path()), "{:?}", t.files());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Rule: any call sequence keeps the event contract and leaves no
    /// temporary file.
    #[test]
    fn random_call_sequences(ops in proptest::collection::vec(op(), 1..40)) {
        let server = Server::start();
        run(&server, &ops);
    }
}

/// Regression: a HEAD to a server that then stalls its connection; the
/// next request reuses that connection and must still end (timeout).
#[test]
fn head_then_stalled_connection() {
    let server = Server::start();
    let ops = [Op::Download {
        url: 8,
        file: 0,
        method: 2,
        dir: 0,
        progress: false,
    }];
    run(&server, &ops);
}
