//! The in-process test server shared by the integration tests: plain
//! HTTP/1.1 or HTTPS on 127.0.0.1 (ephemeral port), with routes that
//! misbehave on purpose. See `routes.rs` for the list.
#![allow(dead_code)]

mod assets;
mod http;
mod nginx;
mod proxy;
mod routes;
mod tls;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

#[allow(unused_imports)]
pub use assets::{sha256_hex, Asset, Fault};
pub use http::Recorded;
#[allow(unused_imports)]
pub use nginx::Nginx;
#[allow(unused_imports)]
pub use proxy::Proxy;

/// Deterministic pseudo-random bytes (xorshift64*): the bodies the server
/// sends, for byte-exact comparisons.
pub fn body(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// An http URL on 127.0.0.1 whose port has no listener.
pub fn refused_url() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("http://127.0.0.1:{port}/")
}

/// State shared by the server's threads.
pub(crate) struct Shared {
    pub stopping: AtomicBool,
    /// Wakes handlers that stall "forever" when the server stops.
    pub stop_lock: Mutex<()>,
    pub stop_cv: Condvar,
    pub connections: AtomicUsize,
    pub open: AtomicUsize,
    pub max_open: AtomicUsize,
    pub requests: AtomicUsize,
    pub last: Mutex<Option<Recorded>>,
    streams: Mutex<Vec<TcpStream>>,
    /// Files served by `assets.rs` (`Server::put`).
    pub assets: assets::Assets,
}

impl Shared {
    /// Sleeps `d`, or less if the server stops; false when stopping.
    pub fn pause(&self, d: Duration) -> bool {
        let guard = self.stop_lock.lock().unwrap();
        let _ = self
            .stop_cv
            .wait_timeout_while(guard, d, |_| !self.stopping.load(Ordering::SeqCst))
            .unwrap();
        !self.stopping.load(Ordering::SeqCst)
    }

    /// Blocks until the server stops.
    pub fn stall(&self) {
        while self.pause(Duration::from_secs(3600)) {}
    }
}

/// A running test server; stops (closing every connection) on drop.
pub struct Server {
    port: u16,
    tls: bool,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
    ca: Option<tempfile::TempDir>,
}

impl Server {
    /// Plain HTTP/1.1.
    pub fn start() -> Server {
        Server::launch(None)
    }

    /// HTTPS with a fresh self-signed certificate for 127.0.0.1/localhost.
    pub fn start_tls() -> Server {
        let (acceptor, pem) = tls::self_signed();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.pem"), pem).unwrap();
        let mut s = Server::launch(Some(acceptor));
        s.ca = Some(dir);
        s
    }

    fn launch(tls: Option<openssl::ssl::SslAcceptor>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared {
            stopping: AtomicBool::new(false),
            stop_lock: Mutex::new(()),
            stop_cv: Condvar::new(),
            connections: AtomicUsize::new(0),
            open: AtomicUsize::new(0),
            max_open: AtomicUsize::new(0),
            requests: AtomicUsize::new(0),
            last: Mutex::new(None),
            streams: Mutex::new(Vec::new()),
            assets: Default::default(),
        });
        let is_tls = tls.is_some();
        let s = shared.clone();
        let accept = std::thread::spawn(move || {
            let mut workers = Vec::new();
            for stream in listener.incoming() {
                if s.stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                s.connections.fetch_add(1, Ordering::SeqCst);
                let open = s.open.fetch_add(1, Ordering::SeqCst) + 1;
                s.max_open.fetch_max(open, Ordering::SeqCst);
                s.streams.lock().unwrap().push(stream.try_clone().unwrap());
                let (s2, tls) = (s.clone(), tls.clone());
                workers.push(std::thread::spawn(move || {
                    let _ = stream.set_nodelay(true);
                    match tls {
                        None => serve(&s2, stream.try_clone().unwrap(), &stream),
                        Some(acc) => {
                            if let Ok(ssl) = acc.accept(stream.try_clone().unwrap()) {
                                serve(&s2, ssl, &stream);
                            }
                        }
                    }
                    s2.open.fetch_sub(1, Ordering::SeqCst);
                }));
                workers.retain(|w| !w.is_finished());
            }
            for w in workers {
                let _ = w.join();
            }
        });
        Server {
            port,
            tls: is_tls,
            shared,
            accept: Some(accept),
            ca: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}{path}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn ca_pem_path(&self) -> Option<PathBuf> {
        self.ca.as_ref().map(|d| d.path().join("ca.pem"))
    }

    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    pub fn requests(&self) -> usize {
        self.shared.requests.load(Ordering::SeqCst)
    }

    pub fn max_concurrent_connections(&self) -> usize {
        self.shared.max_open.load(Ordering::SeqCst)
    }

    pub fn last_request(&self) -> Option<Recorded> {
        self.shared.last.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        {
            let _g = self.shared.stop_lock.lock().unwrap();
            self.shared.stop_cv.notify_all();
        }
        for s in self.shared.streams.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
        // Unblock accept().
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

/// Serves requests on one connection until it closes or a route ends it.
fn serve<S: Read + Write>(shared: &Shared, mut io: S, raw: &TcpStream) {
    let mut reader = http::Reader::default();
    while !shared.stopping.load(Ordering::SeqCst) {
        let Some(req) = reader.read_request(&mut io) else {
            return;
        };
        shared.requests.fetch_add(1, Ordering::SeqCst);
        *shared.last.lock().unwrap() = Some(req.clone());
        let done = match assets::respond(shared, &req, &mut io, raw) {
            Some(r) => r,
            None => routes::respond(shared, &req, &mut io, raw),
        };
        if done.is_err() {
            return;
        }
    }
}
