"""netdl for Python: HTTP(S) downloads with began/progress/ended events.

    import netdl
    netdl.set_directory(netdl.DOCUMENTS, "/tmp/game")
    rid = netdl.download("http://127.0.0.1:8000/pack.bin", "pack.bin", progress=True)
    while True:
        for ev in netdl.poll():          # never blocks; call once per frame
            print(ev.phase, ev.bytes_transferred, ev.bytes_estimated)

Events are copied out of the library (they outlive the next poll). The
library is found through $NETDL_LIB (its full path), else the linker path.
It is one process-wide instance: shutdown() is final.
"""
import ctypes
import threading
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional

from . import _ffi

__all__ = [
    "DOCUMENTS", "TEMPORARY", "CACHES", "APPLICATION_SUPPORT", "RESOURCE", "Event",
    "download", "request", "cancel", "poll", "wait", "events", "set_directory",
    "get_directory", "set_app_name", "set_limits", "shutdown", "error_name",
]

DOCUMENTS, TEMPORARY, CACHES, APPLICATION_SUPPORT, RESOURCE = range(5)
_PHASES = {0: "began", 1: "progress", 2: "ended"}
_BATCH = 64

_lib = _ffi.load()
__version__ = _lib.net_version().decode()

# user_data objects by request id: C only ever sees the id, never a pointer.
_user_data: Dict[int, Any] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class Event:
    id: int
    user_data: Any
    phase: str  # "began" | "progress" | "ended"
    is_error: bool
    error_code: int
    error: str
    status: int
    bytes_transferred: int
    bytes_estimated: int
    url: str
    headers: Dict[str, str] = field(default_factory=dict)
    path: Optional[str] = None
    body: Optional[bytes] = None
    filename: Optional[str] = None
    base_dir: Optional[int] = None
    response_type: str = "binary"

    @property
    def error_name(self) -> str:
        return error_name(self.error_code)

    @property
    def ok(self) -> bool:
        """A 2xx response without transport error."""
        return not self.is_error and 200 <= self.status < 300


def error_name(code: int) -> str:
    return _lib.net_error_name(code).decode()


def _params(headers, body, progress, timeout):
    p = _ffi.NetParams()
    keep = []  # buffers that must outlive the call
    if headers:
        items = list(headers.items()) if isinstance(headers, dict) else list(headers)
        arr = (_ffi.NetHeader * len(items))()
        for i, (k, v) in enumerate(items):
            arr[i].name, arr[i].value = str(k).encode(), str(v).encode()
        p.headers, p.header_count = arr, len(items)
        keep.append(arr)
    if body is not None:
        data = body.encode() if isinstance(body, str) else bytes(body)
        buf = ctypes.create_string_buffer(data, len(data))
        p.body, p.body_len = ctypes.cast(buf, ctypes.c_void_p), len(data)
        p.body_type = 1 if isinstance(body, str) else 2
        keep.append(buf)
    if timeout is not None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        p.timeout = max(1, int(round(timeout)))
    p.progress = bool(progress)
    return p, keep


def _start(call, user_data):
    # Registering under the lock before polling can see the id.
    with _lock:
        rid = call()
        if rid and user_data is not None:
            _user_data[rid] = user_data
    return rid


def download(url: str, filename: str, *, method: str = "GET", headers=None, body=None,
             progress: bool = False, timeout: Optional[float] = None, base_dir: int = DOCUMENTS,
             user_data: Any = None) -> int:
    """Starts downloading `url` into `filename` inside `base_dir`; returns its id.
    Every failure arrives as an `ended` event with `is_error` set."""
    p, keep = _params(headers, body, progress, timeout)
    return _start(lambda: _lib.net_download(url.encode(), method.encode(), ctypes.byref(p),
                                            filename.encode(), base_dir), user_data)


def request(url: str, method: str = "GET", *, headers=None, body=None, progress: bool = False,
            timeout: Optional[float] = None, user_data: Any = None) -> int:
    """Starts a request whose response body arrives in the `ended` event's `body`."""
    p, keep = _params(headers, body, progress, timeout)
    return _start(lambda: _lib.net_request(url.encode(), method.encode(), ctypes.byref(p)), user_data)


def cancel(id: int) -> bool:
    """True if the request was still live; no event of it is delivered afterwards."""
    live = _lib.net_cancel(id)
    if live:
        with _lock:
            _user_data.pop(id, None)
    return live


def _s(p) -> Optional[str]:
    return None if p is None else p.decode("utf-8", "replace")


def _copy(e: "_ffi.NetEvent") -> Event:
    headers = {}
    for i in range(e.header_count):
        headers[e.headers[i].name.decode("latin-1")] = e.headers[i].value.decode("latin-1")
    body = ctypes.string_at(e.body, e.body_len) if e.body else None
    phase = _PHASES.get(e.phase, str(e.phase))
    with _lock:
        user = _user_data.pop(e.id, None) if phase == "ended" else _user_data.get(e.id)
    return Event(
        id=e.id, user_data=user, phase=phase, is_error=e.is_error, error_code=e.error_code,
        error=_s(e.error) or "", status=e.status, bytes_transferred=e.bytes_transferred,
        bytes_estimated=e.bytes_estimated, url=_s(e.url) or "", headers=headers, path=_s(e.path),
        body=body, filename=_s(e.filename), base_dir=e.base_dir if e.filename is not None else None,
        response_type="text" if e.response_type == 0 else "binary")


def poll() -> List[Event]:
    """Every pending event; never blocks."""
    out: List[Event] = []
    buf = (_ffi.NetEvent * _BATCH)()
    while True:
        n = _lib.net_poll(buf, _BATCH)
        out.extend(_copy(buf[i]) for i in range(n))
        if n < _BATCH:
            return out


def wait(timeout: Optional[float] = None) -> List[Event]:
    """Waits up to `timeout` seconds (None: until an event) for events."""
    buf = (_ffi.NetEvent * _BATCH)()
    while True:
        ms = 1000 if timeout is None else max(0, int(timeout * 1000))
        n = _lib.net_wait(buf, _BATCH, ms)
        if n or timeout is not None:
            out = [_copy(buf[i]) for i in range(n)]
            return out + poll() if n == _BATCH else out


def events(*ids: int, timeout: float = 30.0) -> Iterator[Event]:
    """Yields events until every id in `ids` has ended (or `timeout` passed
    without any event)."""
    left = set(ids)
    while left:
        batch = wait(timeout)
        if not batch:
            raise TimeoutError(f"no event within {timeout} s; waiting for {sorted(left)}")
        for ev in batch:
            if ev.phase == "ended":
                left.discard(ev.id)
            yield ev


def set_directory(base_dir: int, path: str) -> None:
    if not _lib.net_set_directory(base_dir, str(path).encode()):
        raise ValueError(f"cannot set directory {base_dir} to {path!r} (it must be absolute)")


def get_directory(base_dir: int) -> str:
    n = _lib.net_get_directory(base_dir, None, 0)
    buf = ctypes.create_string_buffer(n + 1)
    _lib.net_get_directory(base_dir, buf, n + 1)
    return buf.value.decode()


def set_app_name(name: str) -> None:
    if not _lib.net_set_app_name(name.encode()):
        raise ValueError(f"invalid application name {name!r}")


def set_limits(max_transfers: int, max_per_host: int) -> None:
    if not _lib.net_set_limits(max_transfers, max_per_host):
        raise ValueError("limits must be at least 1")


def shutdown() -> None:
    """Stops everything and frees the library's memory. Final for the process."""
    _lib.net_shutdown()
    with _lock:
        _user_data.clear()
