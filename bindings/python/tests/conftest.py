import contextlib
import os
import ssl
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "bindings" / "python"))
os.environ.setdefault("NETDL_LIB", str(ROOT / "target" / "debug" / "libnetdl.so"))


@pytest.fixture(scope="session")
def served(tmp_path_factory):
    """The folder the session's server serves under /files/."""
    return tmp_path_factory.mktemp("served")


@contextlib.contextmanager
def loopback(served, *args):
    """scripts/loopback_server.py serving `served` (with its extra `args`):
    its base URL while the block runs."""
    proc = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "loopback_server.py"),
                             "--dir", str(served), *args],
                            stdout=subprocess.PIPE, text=True)
    try:
        base = proc.stdout.readline().strip()
        assert base.startswith("http://127.0.0.1:"), base
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def server(served):
    """Base URL of scripts/loopback_server.py, started for the session."""
    with loopback(served) as base:
        yield base


@pytest.fixture
def docs(tmp_path):
    """A fresh Documents directory."""
    import netdl
    netdl.set_directory(netdl.DOCUMENTS, str(tmp_path))
    return tmp_path


def pattern(n):
    return bytes(i % 251 for i in range(n))


@contextlib.contextmanager
def serve(respond, tls: ssl.SSLContext = None):
    """A one-off server on 127.0.0.1 whose every GET answers
    respond(path) -> (status, [(name, value)...], body). Yields its base URL."""
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            status, headers, body = respond(self.path)
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 128  # the library opens up to 64 connections at once

    httpd = Server(("127.0.0.1", 0), Handler)
    if tls is not None:
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@pytest.fixture(scope="session")
def self_signed(tmp_path_factory):
    """(cert.pem, key.pem) of a throw-away self-signed certificate for 127.0.0.1."""
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                    "-subj", "/CN=netdl python test", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key
