//! Proxies: the `proxy` option, and `http_proxy` / `https_proxy` /
//! `no_proxy` from the environment as libcurl and curl read them. Through
//! the test support's loopback proxy (plain forwarding and `CONNECT`).
//!
//! One test: the environment is the process's, so its cases run in turn,
//! and it changes only between downloads (libcurl reads it while a
//! transfer connects, on the network thread).

mod common;
mod support;

use common::*;
use netdl::{ErrorKind, Fetch, Options};
use support::{Proxy, Server};

fn via(proxy: Option<&str>) -> Options {
    Options {
        fetch: Fetch {
            proxy: proxy.map(str::to_string),
            ..Fetch::default()
        },
        ..Options::default()
    }
}

/// Downloads `url` with `opts` into a fresh file; checks it is the 2000
/// bytes of `/bytes/2000`.
fn fetch(t: &TestClient, url: &str, opts: Options) {
    let ev = t.ended(t.download(url, "p.bin", opts));
    assert!(!ev.is_error(), "{url}: {:?}", ev.error);
    assert_eq!(ev.status, 200);
    assert_eq!(
        std::fs::read(t.docs("p.bin")).unwrap(),
        support::body(2000, 0)
    );
}

#[test]
fn proxies_from_the_option_and_the_environment() {
    for var in [
        "http_proxy",
        "https_proxy",
        "no_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
        "all_proxy",
        "ALL_PROXY",
    ] {
        std::env::remove_var(var);
    }
    let server = Server::start();
    let tls = Server::start_tls();
    let proxy = Proxy::start();
    let t = TestClient::new();
    let http_url = server.url("/bytes/2000");
    let https_url = tls.url("/bytes/2000");
    let tls_opts = |proxy: Option<&str>| Options {
        ca_file: tls.ca_pem_path(),
        ..via(proxy)
    };
    let forwarded = format!("GET {http_url} HTTP/1.1");
    let tunnel = format!("CONNECT 127.0.0.1:{} HTTP/1.1", tls.port());

    // The option: plain forwarding for http, a tunnel for https.
    fetch(&t, &http_url, via(Some(&proxy.url())));
    fetch(&t, &https_url, tls_opts(Some(&proxy.url())));
    assert_eq!(proxy.requests(), vec![forwarded.clone(), tunnel.clone()]);
    // No proxy at all without the option or the environment.
    fetch(&t, &http_url, Options::default());
    assert_eq!(proxy.requests().len(), 2);

    // The environment, as curl reads it.
    std::env::set_var("http_proxy", proxy.url());
    std::env::set_var("https_proxy", proxy.url());
    // (Another TLS server: the tunnel to the first one may be reused.)
    let tls2 = Server::start_tls();
    fetch(&t, &http_url, Options::default());
    let ev = t.ended(t.download(
        &tls2.url("/bytes/2000"),
        "p.bin",
        Options {
            ca_file: tls2.ca_pem_path(),
            ..Options::default()
        },
    ));
    assert!(!ev.is_error(), "{:?}", ev.error);
    let tunnel2 = format!("CONNECT 127.0.0.1:{} HTTP/1.1", tls2.port());
    assert_eq!(proxy.requests()[2..], [forwarded.clone(), tunnel2]);
    // "" turns it off; so does no_proxy.
    fetch(&t, &http_url, via(Some("")));
    std::env::set_var("no_proxy", "127.0.0.1");
    fetch(&t, &http_url, Options::default());
    assert_eq!(proxy.requests().len(), 4);
    // The option beats no_proxy.
    fetch(&t, &http_url, via(Some(&proxy.url())));
    assert_eq!(proxy.requests().len(), 5);
    for var in ["http_proxy", "https_proxy", "no_proxy"] {
        std::env::remove_var(var);
    }

    // A proxy that cannot be reached: the connect error.
    let ev = t.ended(t.download(&http_url, "q.bin", via(Some(&support::refused_url()))));
    assert_eq!(ev.error.map(|e| e.kind), Some(ErrorKind::Connect));
    // A bad proxy string is refused at once.
    let ev = t.ended(t.download(&http_url, "q.bin", via(Some("http://a b"))));
    assert_eq!(ev.error.map(|e| e.kind), Some(ErrorKind::InvalidArgument));
}
