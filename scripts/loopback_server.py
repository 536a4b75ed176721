#!/usr/bin/env python3
"""A small HTTP/1.1 server on 127.0.0.1 for the demo and the bindings' tests.

    python3 scripts/loopback_server.py [--dir DIR] [--rate BYTES_PER_SEC]

Prints its base URL (http://127.0.0.1:PORT) as the first line on stdout and
serves until SIGTERM or SIGINT. Routes:

    /files/NAME      DIR/NAME (GET, HEAD), paced to --rate bytes/s if given, with
                     Accept-Ranges, a strong ETag and Last-Modified; a single
                     Range (bytes=A-B, bytes=A-) gets a 206 unless If-Range
                     names another ETag or date
    /ranges/NAME     the Range headers /files/NAME was asked with, one a line
    /bytes/N         N bytes, byte i = i % 251 (application/octet-stream)
    /text/N          N bytes of ASCII text (text/plain)
    /status/CODE     that status, body "status CODE" (none for 204/304)
    /redirect/N      302 to /redirect/N-1; /redirect/0 is 200 "done"
    /echo            JSON {method, path, query, headers, body (latin-1)}
    /slow/N?ms=D     N bytes in 1 KiB chunks, one every D ms
    anything else    404 "not found"
"""
import argparse
import email.utils
import json
import os
import re
import signal
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


def pattern(n):
    block = bytes(i % 251 for i in range(251))
    return (block * (n // 251 + 1))[:n]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    files_dir = None
    rate = 0
    ranges = {}  # NAME -> the Range headers /files/NAME was asked with

    def log_message(self, *args):
        pass

    def send(self, status, body=b"", ctype="application/octet-stream", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        if status not in (204, 304):
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and status not in (204, 304):
            self.write_paced(body, self.rate)

    def write_paced(self, body, rate, chunk=16384, delay=0.0):
        if not rate and not delay:
            self.wfile.write(body)
            return
        start = time.monotonic()
        for i in range(0, len(body), chunk):
            self.wfile.write(body[i:i + chunk])
            self.wfile.flush()
            if rate:
                due = start + (i + chunk) / rate
                time.sleep(max(0.0, due - time.monotonic()))
            else:
                time.sleep(delay)

    def send_file(self, name, path):
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            data = f.read()
        etag = '"%x-%x"' % (st.st_size, st.st_mtime_ns)
        modified = int(st.st_mtime)
        headers = [("Accept-Ranges", "bytes"), ("ETag", etag),
                   ("Last-Modified", email.utils.formatdate(modified, usegmt=True))]
        asked = self.headers.get("Range")
        if asked is not None:
            self.ranges.setdefault(name, []).append(asked)
        m = re.fullmatch(r"bytes=(\d+)-(\d*)", asked or "")
        if_range = self.headers.get("If-Range")
        if if_range is not None and if_range.startswith('"'):
            current = if_range == etag
        elif if_range is not None:
            try:
                current = email.utils.parsedate_to_datetime(if_range).timestamp() == modified
            except (TypeError, ValueError):
                current = False
        else:
            current = True
        if not m or not current or (m.group(2) and int(m.group(2)) < int(m.group(1))):
            return self.send(200, data, headers=headers)  # no range, another file, or not valid
        start = int(m.group(1))
        end = min(int(m.group(2) or len(data) - 1), len(data) - 1)
        if start >= len(data):
            return self.send(416, b"", headers=headers + [("Content-Range", "bytes */%d" % len(data))])
        headers.append(("Content-Range", "bytes %d-%d/%d" % (start, end, len(data))))
        return self.send(206, data[start:end + 1], headers=headers)

    def do_HEAD(self):
        self.do_GET()

    def do_POST(self):
        self.do_GET()

    do_PUT = do_PATCH = do_DELETE = do_POST

    def do_GET(self):
        url = urlsplit(self.path)
        parts = url.path.strip("/").split("/")
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            route, arg = parts[0], (parts[1] if len(parts) > 1 else "")
            if route == "files" and self.files_dir and arg and "/" not in arg and arg not in (".", ".."):
                path = os.path.join(self.files_dir, arg)
                if os.path.isfile(path):
                    return self.send_file(arg, path)
            elif route == "ranges":
                return self.send(200, "".join(r + "\n" for r in self.ranges.get(arg, [])).encode(),
                                 "text/plain")
            elif route == "bytes":
                return self.send(200, pattern(int(arg)))
            elif route == "text":
                text = bytes(97 + i % 26 for i in range(int(arg)))
                return self.send(200, text, "text/plain")
            elif route == "status":
                return self.send(int(arg), b"status %d" % int(arg), "text/plain")
            elif route == "redirect":
                n = int(arg)
                if n == 0:
                    return self.send(200, b"done", "text/plain")
                return self.send(302, b"", headers=[("Location", "/redirect/%d" % (n - 1))])
            elif route == "echo":
                doc = {
                    "method": self.command,
                    "path": url.path,
                    "query": url.query,
                    "headers": {k: v for k, v in self.headers.items()},
                    "body": body.decode("latin-1"),
                }
                return self.send(200, json.dumps(doc).encode(), "application/json")
            elif route == "slow":
                data = pattern(int(arg))
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                return self.write_paced(data, 0, 1024, int(query.get("ms", "10")) / 1000)
        except (ValueError, IndexError):
            pass
        except (BrokenPipeError, ConnectionResetError):
            return
        self.send(404, b"not found", "text/plain")


class Server(ThreadingHTTPServer):
    # socketserver's default listen backlog is 5: 64 connections opened at
    # once (netdl's default limit) overflow it and stall connects for seconds.
    request_queue_size = 128
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client that closes with data unread (a segmented download's
        # first connection) resets the connection: not worth a traceback.
        if not isinstance(sys.exc_info()[1], ConnectionResetError):
            super().handle_error(request, client_address)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", help="directory served under /files/")
    ap.add_argument("--rate", type=int, default=0, help="pace /files/ to this many bytes/s")
    args = ap.parse_args()
    Handler.files_dir = args.dir
    Handler.rate = args.rate
    server = Server(("127.0.0.1", 0), Handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("http://127.0.0.1:%d" % server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
