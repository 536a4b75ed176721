//! The wake-up fd (`net_event_fd`, `net_queue_event_fd`), through the C
//! ABI: readable exactly while events wait, one per queue, enough to drive
//! downloads from an `epoll` loop with no frame loop (level- and
//! edge-triggered), closed by `net_queue_destroy` and `net_shutdown`.
//!
//! The tests share the process-global client: only
//! `readable_exactly_when_events_wait` uses the default queue; the others
//! make their own. What closes fds runs in a child process of its own (no
//! other test there can reuse a closed descriptor's number).

mod support;

use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::os::fd::RawFd;
use std::process::Command;

use netdl::ffi::*;
use support::Server;

/// Whether `fd` is readable right now (`poll` with a 0 timeout).
fn readable(fd: RawFd) -> bool {
    wait_readable(fd, 0)
}

/// Whether `fd` becomes readable within `timeout_ms`.
fn wait_readable(fd: RawFd, timeout_ms: i32) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, for the duration of the call.
    let n = unsafe { libc::poll(&mut p, 1, timeout_ms) };
    assert!(n >= 0, "poll: {}", std::io::Error::last_os_error());
    assert_eq!(p.revents & (libc::POLLERR | libc::POLLNVAL), 0);
    n == 1 && p.revents & libc::POLLIN != 0
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap()
}

/// `fcntl(fd, cmd)`.
fn fcntl(fd: RawFd, cmd: i32) -> i32 {
    // SAFETY: F_GETFD / F_GETFL take no argument and touch no memory.
    unsafe { libc::fcntl(fd, cmd) }
}

fn params(queue: *mut net_queue) -> net_params {
    net_params {
        queue,
        // SAFETY: every field of net_params is an integer or a raw
        // pointer: all zero is a valid value (every default).
        ..unsafe { std::mem::zeroed() }
    }
}

/// A request that is rejected on the calling thread (unsupported scheme):
/// its `ended` event is in `queue` when this returns.
fn rejected(queue: *mut net_queue) -> net_id {
    let p = params(queue);
    // SAFETY: valid C strings and params for the call.
    let id = unsafe { net_request(c"gopher://x/".as_ptr(), std::ptr::null(), &p) };
    assert_ne!(id, 0);
    id
}

/// Polls `queue` (NULL: the default) with room for `capacity` events;
/// returns their (id, phase, error code).
fn poll(queue: *mut net_queue, capacity: usize) -> Vec<(net_id, net_phase, net_error)> {
    // SAFETY: all-zero events are valid values; overwritten by the poll.
    let mut evs = vec![unsafe { std::mem::zeroed::<net_event>() }; capacity];
    // SAFETY: `evs` has room for `capacity` events; `queue` is NULL or live.
    let n = unsafe { net_queue_poll(queue, evs.as_mut_ptr(), capacity) };
    evs[..n]
        .iter()
        .map(|e| (e.id, e.phase, e.error_code))
        .collect()
}

/// Rule: the default queue's fd is made once, nonblocking and
/// close-on-exec; it is readable exactly while events wait: not before any
/// request, as soon as a request ended (found by waiting on the fd, not by
/// polling), still after a capacity-1 poll that left events, not after the
/// poll that took the last one (`net_poll` or `net_wait`). An event of a
/// request cancelled before the poll keeps it readable until that poll
/// (which returns 0) drops it.
#[test]
fn readable_exactly_when_events_wait() {
    let server = Server::start();
    let fd = net_event_fd();
    assert!(fd >= 0, "net_event_fd: {}", std::io::Error::last_os_error());
    assert_eq!(net_event_fd(), fd, "the same fd on every call");
    // SAFETY: NULL is the default queue.
    assert_eq!(unsafe { net_queue_event_fd(std::ptr::null_mut()) }, fd);
    assert_ne!(fcntl(fd, libc::F_GETFD) & libc::FD_CLOEXEC, 0);
    assert_ne!(fcntl(fd, libc::F_GETFL) & libc::O_NONBLOCK, 0);
    assert!(!readable(fd), "no request yet");

    // A real request: the fd says when it ended.
    let url = CString::new(server.url("/bytes/100?seed=1")).unwrap();
    // SAFETY: a valid C string; NULL params and method mean defaults.
    let id = unsafe { net_request(url.as_ptr(), std::ptr::null(), std::ptr::null()) };
    assert!(wait_readable(fd, 10_000), "no wake-up within 10 s");
    assert!(readable(fd), "level: still readable until polled");
    let null = std::ptr::null_mut();
    assert_eq!(poll(null, 16), [(id, NET_PHASE_ENDED, NET_ERROR_NONE)]);
    assert!(!readable(fd), "the poll took everything");

    // Three events waiting, taken one at a time.
    let ids: Vec<net_id> = (0..3).map(|_| rejected(null)).collect();
    assert!(readable(fd));
    for (i, &id) in ids.iter().enumerate() {
        let got = poll(null, 1);
        assert_eq!(got, [(id, NET_PHASE_ENDED, NET_ERROR_UNSUPPORTED_SCHEME)]);
        assert_eq!(readable(fd), i < 2, "after taking event {i} of 3");
    }
    assert_eq!(poll(null, 1), []);
    assert!(!readable(fd));

    // net_wait drains it too.
    let id = rejected(null);
    assert!(readable(fd));
    // SAFETY: all-zero events are valid values; overwritten by the wait.
    let mut evs = [unsafe { std::mem::zeroed::<net_event>() }; 4];
    // SAFETY: `evs` has room for 4 events.
    assert_eq!(unsafe { net_wait(evs.as_mut_ptr(), 4, 0) }, 1);
    assert_eq!(evs[0].id, id);
    assert!(!readable(fd));

    // A cancelled request's event: readable until a poll drops it.
    let id = rejected(null);
    assert!(net_cancel(id));
    assert!(readable(fd));
    assert_eq!(poll(null, 16), []);
    assert!(!readable(fd));
}

/// Rule: every queue has its own fd, readable exactly while that queue
/// has events, whatever the others hold or poll; a queue's fd asked for
/// after its events arrived is readable at once.
#[test]
fn per_queue_fds_are_independent() {
    let (q1, q2) = (net_queue_create(), net_queue_create());
    assert!(!q1.is_null() && !q2.is_null());
    // SAFETY (this test): q1, q2 and q3 are live until destroyed below.
    let (f1, f2) = unsafe { (net_queue_event_fd(q1), net_queue_event_fd(q2)) };
    assert!(f1 >= 0 && f2 >= 0);
    assert!(f1 != f2 && f1 != net_event_fd() && f2 != net_event_fd());
    assert_eq!(unsafe { net_queue_event_fd(q1) }, f1);
    assert!(!readable(f1) && !readable(f2));

    let a = [rejected(q1), rejected(q1)];
    assert!(readable(f1) && !readable(f2));
    let b = rejected(q2);
    assert!(readable(f1) && readable(f2));
    let e = NET_ERROR_UNSUPPORTED_SCHEME;
    assert_eq!(poll(q2, 16), [(b, NET_PHASE_ENDED, e)]);
    assert!(readable(f1) && !readable(f2), "q2's poll leaves q1's fd");
    assert_eq!(poll(q1, 1), [(a[0], NET_PHASE_ENDED, e)]);
    assert!(readable(f1));
    assert_eq!(poll(q1, 1), [(a[1], NET_PHASE_ENDED, e)]);
    assert!(!readable(f1) && !readable(f2));

    let q3 = net_queue_create();
    let c = rejected(q3);
    let f3 = unsafe { net_queue_event_fd(q3) };
    assert!(f3 >= 0 && readable(f3), "made with an event waiting");
    assert!(!readable(f1) && !readable(f2));
    assert_eq!(poll(q3, 16), [(c, NET_PHASE_ENDED, e)]);
    assert!(!readable(f3));
    unsafe {
        net_queue_destroy(q1);
        net_queue_destroy(q2);
        net_queue_destroy(q3);
    }
}

/// How an epoll loop drains its queue after a wake-up.
#[derive(Clone, Copy, Debug)]
enum Drain {
    /// Level-triggered; one poll of 8 events per wake-up: whatever it
    /// leaves wakes the loop again.
    OnePollLevel,
    /// Edge-triggered (`EPOLLET`); polls of 64 until one returns fewer.
    UntilShortEdge,
}

/// Rule: an epoll loop with no frame loop (it blocks in `epoll_wait` on
/// the queue's fd, then polls) drives 1,000 downloads with progress events
/// to the end, every file byte-exact. It never spins: `epoll_wait` never
/// times out, and no wake-up finds the queue empty (the fd is readable
/// only while events wait, only this loop polls and nothing is
/// cancelled), so there are at most as many wake-ups as events.
fn epoll_loop_drives_downloads(drain: Drain) {
    const FILES: usize = 1000;
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    // Only this file's two epoll tests download files: one base
    // directory each, as they run at the same time.
    let base = match drain {
        Drain::OnePollLevel => NET_DIR_DOCUMENTS,
        Drain::UntilShortEdge => NET_DIR_CACHES,
    };
    let path = CString::new(dir.path().to_str().unwrap()).unwrap();
    // SAFETY: a valid C string.
    assert!(unsafe { net_set_directory(base, path.as_ptr()) });
    let q = net_queue_create();
    // SAFETY: `q` is live until destroyed at the end.
    let fd = unsafe { net_queue_event_fd(q) };
    assert!(fd >= 0);
    // SAFETY: epoll_create1 takes no pointer.
    let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    assert!(ep >= 0);
    let flags = match drain {
        Drain::OnePollLevel => libc::EPOLLIN,
        Drain::UntilShortEdge => libc::EPOLLIN | libc::EPOLLET,
    };
    let mut interest = libc::epoll_event {
        events: flags as u32,
        u64: 7,
    };
    // SAFETY: `interest` is valid for the call.
    assert_eq!(
        unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, fd, &mut interest) },
        0
    );

    let size = |i: usize| 1 + (i * 7919) % 40_000;
    let mut file_of = HashMap::new();
    for i in 0..FILES {
        let url = CString::new(server.url(&format!("/bytes/{}?seed={i}", size(i)))).unwrap();
        let name = CString::new(format!("{i}.bin")).unwrap();
        let mut p = params(q);
        p.progress = 1;
        // SAFETY: valid C strings and params for the call.
        let id = unsafe { net_download(url.as_ptr(), std::ptr::null(), &p, name.as_ptr(), base) };
        assert_ne!(id, 0);
        file_of.insert(id, i);
    }

    let capacity = match drain {
        Drain::OnePollLevel => 8,
        Drain::UntilShortEdge => 64,
    };
    // SAFETY: all-zero events are valid values; overwritten by the polls.
    let mut evs = vec![unsafe { std::mem::zeroed::<net_event>() }; capacity];
    let (mut wakeups, mut empty_wakeups, mut events) = (0usize, 0usize, 0usize);
    let mut ended = 0;
    while ended < FILES {
        let mut got = libc::epoll_event { events: 0, u64: 0 };
        // SAFETY: room for one event. 30 s: netdl's own timeouts end any
        // stalled transfer well before.
        let n = unsafe { libc::epoll_wait(ep, &mut got, 1, 30_000) };
        assert_eq!(n, 1, "epoll_wait: no wake-up within 30 s at {ended} ended");
        let token = got.u64; // a copy: the struct is packed
        assert_eq!(token, 7);
        wakeups += 1;
        let mut first = true;
        loop {
            // SAFETY: `evs` has room for `capacity` events; `q` is live.
            let n = unsafe { net_queue_poll(q, evs.as_mut_ptr(), capacity) };
            if first && n == 0 {
                empty_wakeups += 1;
            }
            first = false;
            events += n;
            for e in &evs[..n] {
                if e.phase != NET_PHASE_ENDED {
                    continue;
                }
                ended += 1;
                // SAFETY: `error` is NULL or a C string valid until the
                // next poll.
                let error = (!e.error.is_null()).then(|| unsafe { CStr::from_ptr(e.error) });
                assert!(!e.is_error, "{} failed: {error:?}", e.id);
                assert_eq!(e.status, 200);
                let i = file_of.remove(&e.id).expect("one ended per id");
                assert_eq!(e.bytes_transferred, size(i) as i64);
            }
            if matches!(drain, Drain::OnePollLevel) || n < capacity {
                break;
            }
        }
    }
    eprintln!("{drain:?}: {events} events, {wakeups} wake-ups, {empty_wakeups} empty");
    assert!(file_of.is_empty());
    assert_eq!(empty_wakeups, 0, "a wake-up found nothing to poll");
    assert!(wakeups <= events, "{wakeups} wake-ups for {events} events");
    assert!(!readable(fd), "everything was polled");
    for i in 0..FILES {
        let saved = std::fs::read(dir.path().join(format!("{i}.bin"))).unwrap();
        assert!(
            saved == support::body(size(i), i as u64),
            "file {i} differs"
        );
    }
    // SAFETY: `ep` is ours; `q` is live and destroyed once.
    unsafe {
        libc::close(ep);
        net_queue_destroy(q);
    }
}

#[test]
fn epoll_level_triggered_loop_drives_1000_downloads() {
    epoll_loop_drives_downloads(Drain::OnePollLevel);
}

#[test]
fn epoll_edge_triggered_loop_drives_1000_downloads() {
    epoll_loop_drives_downloads(Drain::UntilShortEdge);
}

/// Set in the child process of `destroy_and_shutdown_close_the_fds`.
const CHILD: &str = "NETDL_EVENT_FD_CHILD";

/// Rule: a queue makes no fd until asked (creating, sending to and
/// polling it opens no descriptor); `net_queue_destroy` closes its fd,
/// `net_shutdown` closes every other one; afterwards `net_event_fd` and
/// `net_queue_event_fd` return -1 with `errno` `ESHUTDOWN`. Run alone in
/// a child process, where no other test can reuse a closed number.
#[test]
fn destroy_and_shutdown_close_the_fds() {
    if std::env::var_os(CHILD).is_some() {
        return child();
    }
    let name = "destroy_and_shutdown_close_the_fds";
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("event-fd child: all checks passed"),
        "{stdout}"
    );
}

/// The eventfds this process has open.
fn eventfds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|target| target.as_os_str() == "anon_inode:[eventfd]")
        .count()
}

fn child() {
    let q = net_queue_create();
    let before = eventfds();
    let id = rejected(q);
    assert_eq!(poll(q, 4).len(), 1, "{id}'s ended");
    assert_eq!(eventfds(), before, "no fd until one is asked for");
    // SAFETY (this function): `q` and `q2` are live until destroyed.
    let fq = unsafe { net_queue_event_fd(q) };
    assert!(fq >= 0);
    assert_eq!(eventfds(), before + 1);
    assert!(fcntl(fq, libc::F_GETFD) >= 0);
    unsafe { net_queue_destroy(q) };
    assert_eq!(fcntl(fq, libc::F_GETFD), -1, "destroy closed it");
    assert_eq!(errno(), libc::EBADF);

    let q2 = net_queue_create();
    let f2 = unsafe { net_queue_event_fd(q2) };
    let fd = net_event_fd();
    assert!(f2 >= 0 && fd >= 0);
    assert_eq!(eventfds(), before + 2);
    net_shutdown();
    for f in [fd, f2] {
        assert_eq!(fcntl(f, libc::F_GETFD), -1, "shutdown closed {f}");
        assert_eq!(errno(), libc::EBADF);
    }
    assert_eq!(net_event_fd(), -1);
    assert_eq!(errno(), libc::ESHUTDOWN);
    assert_eq!(unsafe { net_queue_event_fd(q2) }, -1);
    assert_eq!(errno(), libc::ESHUTDOWN);
    unsafe { net_queue_destroy(q2) };
    println!("event-fd child: all checks passed");
}
