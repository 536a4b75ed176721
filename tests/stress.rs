//! Races and load through the C ABI (the process-global instance, so this
//! file holds a single test): 10,000 small downloads over 64 connections,
//! 4 threads cancelling random ids while the main thread polls every
//! "frame", then `net_shutdown` mid-flight.

mod common;
mod support;

use std::collections::{HashMap, HashSet};
use std::ffi::{CStr, CString};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use netdl::ffi::*;
use support::Server;

/// 10,000 by default; `NETDL_STRESS_TOTAL` lowers it for the valgrind run.
fn total() -> u64 {
    std::env::var("NETDL_STRESS_TOTAL")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Established TCP connections from this machine to `port` on 127.0.0.1:
/// the client's side only (the in-process server's sockets have `port`
/// as their local port, not their remote one). The kernel's own count, so
/// a connection netdl closed is not counted while the server has yet to
/// notice it.
fn client_connections_to(port: u16) -> usize {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    let remote = format!("0100007F:{port:04X}");
    table
        .lines()
        .skip(1)
        .filter(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            cols.get(2) == Some(&remote.as_str()) && cols.get(3) == Some(&"01")
        })
        .count()
}

/// A tiny xorshift, so the cancel pattern is random but repeatable.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

fn size_of_file(i: u64) -> usize {
    200 + (i as usize * 7919) % 3000
}

/// Rule: every id gets exactly one `ended` or one successful cancel, never
/// both and never none; nothing is delivered after a cancel returned;
/// finished files are byte-exact; no temporary file or descriptor leaks;
/// shutdown mid-flight stops everything.
#[test]
fn ten_thousand_downloads_with_cancels_and_shutdown() {
    let fds_before = open_fds();
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let docs = CString::new(dir.path().to_str().unwrap()).unwrap();
    // SAFETY: valid C strings for the duration of each call.
    assert!(unsafe { net_set_directory(NET_DIR_DOCUMENTS, docs.as_ptr()) });
    assert!(net_set_limits(64, 64));

    let mut ids = Vec::new();
    let mut file_of = HashMap::new();
    for i in 0..total() {
        let url =
            CString::new(server.url(&format!("/bytes/{}?seed={i}", size_of_file(i)))).unwrap();
        let name = CString::new(format!("s/{i}.bin")).unwrap();
        // SAFETY: valid C strings; NULL params means defaults.
        let id = unsafe {
            net_download(
                url.as_ptr(),
                c"GET".as_ptr(),
                std::ptr::null(),
                name.as_ptr(),
                NET_DIR_DOCUMENTS,
            )
        };
        assert_ne!(id, 0);
        ids.push(id);
        file_of.insert(id, i);
    }

    let cancelled: Arc<Mutex<HashSet<u64>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let cancellers: Vec<_> = (0..4u64)
        .map(|k| {
            let (ids, cancelled, stop) = (ids.clone(), cancelled.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut rng = 0x9E37_79B9_7F4A_7C15 ^ (k + 1);
                let mut wins = 0;
                while !stop.load(Ordering::Relaxed) && wins < total() / 20 {
                    let id = ids[(next(&mut rng) % ids.len() as u64) as usize];
                    if net_cancel(id) {
                        // Inserted only after cancel returned: any later
                        // delivery of `id` is a violation.
                        assert!(
                            cancelled.lock().unwrap().insert(id),
                            "cancelled twice: {id}"
                        );
                        wins += 1;
                    }
                    std::thread::yield_now();
                }
            })
        })
        .collect();

    let mut ended: HashMap<u64, (bool, i32)> = HashMap::new();
    let mut events = vec![unsafe { std::mem::zeroed::<net_event>() }; 256];
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut peak_connections = 0;
    // Frames in a row that saw more than 64 connections.
    let (mut over, mut most_over) = (0, 0);
    loop {
        let open = client_connections_to(server.port());
        peak_connections = peak_connections.max(open);
        over = if open > 64 { over + 1 } else { 0 };
        most_over = most_over.max(over);
        // SAFETY: `events` has room for 256 events.
        let n = unsafe { net_poll(events.as_mut_ptr(), events.len()) };
        let set = cancelled.lock().unwrap();
        for ev in &events[..n] {
            assert!(
                !set.contains(&ev.id),
                "event for {} after its cancel returned",
                ev.id
            );
            assert_eq!(ev.phase, NET_PHASE_ENDED);
            assert!(
                ended.insert(ev.id, (ev.is_error, ev.status)).is_none(),
                "two ended for {}",
                ev.id
            );
            if ev.is_error {
                // SAFETY: `error` is a valid C string until the next poll.
                panic!("{} failed: {:?}", ev.id, unsafe {
                    CStr::from_ptr(ev.error)
                });
            }
        }
        let done = ended.len() + set.len();
        drop(set);
        if done as u64 >= total() {
            break;
        }
        assert!(Instant::now() < deadline, "stalled at {done}");
        std::thread::sleep(Duration::from_millis(16)); // the frame
    }
    stop.store(true, Ordering::Relaxed);
    for c in cancellers {
        c.join().unwrap();
    }
    // Every id is accounted for; give a stray event (one of a cancelled or
    // already ended id) 50 ms to show itself.
    // SAFETY: `events` has room for 256 events.
    let n = unsafe { net_wait(events.as_mut_ptr(), events.len(), 50) };
    let cancelled = cancelled.lock().unwrap().clone();
    for ev in &events[..n] {
        assert!(!cancelled.contains(&ev.id));
        assert!(ended.insert(ev.id, (ev.is_error, ev.status)).is_none());
    }
    for id in &ids {
        let e = ended.contains_key(id);
        let c = cancelled.contains(id);
        assert!(e != c, "id {id}: ended={e} cancelled={c}");
    }
    assert!(!cancelled.is_empty(), "the cancellers won some races");
    // Sampled once per frame. A cancel can leave its socket open for a
    // moment while the next transfer connects (seen once, under valgrind:
    // one frame at 84); more than 64 in two frames in a row would be the
    // limit not holding.
    assert!(peak_connections >= 1, "no connection seen");
    assert!(
        most_over < 2,
        "over 64 connections for {most_over} frames in a row (peak {peak_connections})"
    );
    eprintln!(
        "stress: {} ended, {} cancelled, {} connections (peak {} open seen by the client, {} by the server)",
        ended.len(),
        cancelled.len(),
        server.connections(),
        peak_connections,
        server.max_concurrent_connections()
    );
    // The network thread deletes a cancelled download's temporary file
    // after `net_cancel` returned; it handles commands in order, so once a
    // request sent now has ended, every earlier cancel has been carried out.
    let url = CString::new(server.url("/bytes/1")).unwrap();
    // SAFETY: valid C string; NULL params.
    let sync = unsafe { net_request(url.as_ptr(), std::ptr::null(), std::ptr::null()) };
    // SAFETY: `events` has room for 256 events.
    let n = unsafe { net_wait(events.as_mut_ptr(), events.len(), 10_000) };
    assert_eq!(n, 1, "only the sync request's ended is left");
    assert_eq!((events[0].id, events[0].phase), (sync, NET_PHASE_ENDED));
    for (id, _) in ended.iter() {
        let i = file_of[id];
        let data = std::fs::read(dir.path().join(format!("s/{i}.bin"))).unwrap();
        assert_eq!(data, support::body(size_of_file(i), i), "file {i}");
    }
    assert!(common::no_temp_files(dir.path()));

    // Shutdown mid-flight: stalled transfers and a long queue.
    let requests_before = server.requests();
    for i in 0..200 {
        let url = CString::new(server.url("/stall-after-headers?len=1000")).unwrap();
        let name = CString::new(format!("late/{i}.bin")).unwrap();
        // SAFETY: valid C strings.
        unsafe {
            net_download(
                url.as_ptr(),
                std::ptr::null(),
                std::ptr::null(),
                name.as_ptr(),
                NET_DIR_DOCUMENTS,
            )
        };
    }
    // Wait until the first 64 are running (the other 136 stay queued).
    while server.requests() < requests_before + 64 {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(10));
    }
    let start = Instant::now();
    net_shutdown();
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    // SAFETY: as above.
    assert_eq!(unsafe { net_poll(events.as_mut_ptr(), events.len()) }, 0);
    assert!(common::no_temp_files(dir.path()));
    assert_eq!(
        common::files_in(&dir.path().join("late")),
        Vec::<std::path::PathBuf>::new()
    );
    drop(server);
    let fds: Vec<_> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .map(|e| std::fs::read_link(e.unwrap().path()))
        .collect();
    assert_eq!(open_fds(), fds_before, "descriptors leaked: {fds:?}");
}
