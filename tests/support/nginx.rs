//! nginx serving a folder on 127.0.0.1 (ephemeral port), one foreground
//! process with its config, logs and pid under a temporary folder. nginx
//! answers `ETag` (on by default), `Last-Modified`, ranges and
//! conditional requests itself: a real file server to check netdl against.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running nginx; killed (and its folder removed) on drop.
pub struct Nginx {
    port: u16,
    child: Child,
    dir: tempfile::TempDir,
}

fn nginx_bin() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin")])
        .map(|d| d.join("nginx"))
        .find(|p| p.is_file())
}

impl Nginx {
    /// Serves `root`; None when nginx is not installed.
    pub fn start(root: &Path) -> Option<Nginx> {
        Nginx::start_with(root, None)
    }

    /// Serves `root` with `limit_rate` bytes/s per connection when given;
    /// None when nginx is not installed. Panics when it does not start.
    pub fn start_with(root: &Path, limit_rate: Option<u64>) -> Option<Nginx> {
        let bin = nginx_bin()?;
        let root = root.canonicalize().expect("nginx root");
        let mut failures = String::new();
        // A port picked free may be taken before nginx binds it: retry.
        for _ in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            let port = free_port();
            let conf = config(dir.path(), &root, port, limit_rate);
            std::fs::write(dir.path().join("nginx.conf"), conf).unwrap();
            let stderr = std::fs::File::create(dir.path().join("stderr.log")).unwrap();
            let child = Command::new(&bin)
                .arg("-p")
                .arg(dir.path())
                .arg("-c")
                .arg(dir.path().join("nginx.conf"))
                .arg("-e")
                .arg(dir.path().join("error.log"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(stderr)
                .spawn()
                .expect("spawn nginx");
            let mut n = Nginx { port, child, dir };
            if n.wait_ready() {
                return Some(n);
            }
            failures.push_str(&n.logs());
            // Drop kills it.
        }
        panic!("nginx did not start:\n{failures}");
    }

    /// `path` on this server ("/a.bin" or "a.bin").
    pub fn url(&self, path: &str) -> String {
        let slash = if path.starts_with('/') { "" } else { "/" };
        format!("http://127.0.0.1:{}{slash}{path}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// True once this nginx answers on its port (it says `Server: nginx`,
    /// so another program that took the port does not count); false when
    /// it exited or took longer than 10 s.
    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return false;
            }
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let mut answer = String::new();
                let ok = s
                    .write_all(b"HEAD / HTTP/1.0\r\n\r\n")
                    .and_then(|_| s.read_to_string(&mut answer));
                return ok.is_ok()
                    && answer.to_ascii_lowercase().contains("\r\nserver: nginx")
                    && matches!(self.child.try_wait(), Ok(None));
            }
            // Process startup: poll the port.
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    fn logs(&self) -> String {
        let read = |f: &str| std::fs::read_to_string(self.dir.path().join(f)).unwrap_or_default();
        format!("{}{}", read("stderr.log"), read("error.log"))
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn config(dir: &Path, root: &Path, port: u16, limit_rate: Option<u64>) -> String {
    let dir = dir.display();
    let root = root.display();
    let limit = match limit_rate {
        Some(n) => format!("limit_rate {n};"),
        None => String::new(),
    };
    format!(
        r#"daemon off;
master_process off;
worker_processes 1;
pid "{dir}/nginx.pid";
error_log "{dir}/error.log" warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path "{dir}/client_body";
    types {{ }}
    default_type application/octet-stream;
    etag on;
    server {{
        listen 127.0.0.1:{port};
        root "{root}";
        {limit}
    }}
}}
"#
    )
}
