"""netdl for Python: HTTP(S) downloads with began/progress/ended events.

    import netdl
    netdl.set_directory(netdl.DOCUMENTS, "/tmp/game")
    rid = netdl.download("http://127.0.0.1:8000/pack.bin", "pack.bin", progress=True)
    while True:
        for ev in netdl.poll():          # never blocks; call once per frame
            print(ev.phase, ev.bytes_transferred, ev.bytes_estimated)

Events are copied out of the library: they outlive the next poll. poll(),
wait() and events() may be called from several threads at once; each event
goes to exactly one caller. The module has its own event queue in the
library: other users of libnetdl in the process (net_poll, another
binding) never take its events, nor it theirs.

The library is $NETDL_LIB (its full path) if set, else libnetdl.so.0 in
the `lib` folder of the prefix this package is installed in, of
sys.prefix, then on the linker path (see `library_path`). It is one
process-wide instance: shutdown() is final.

asyncio (no thread, no sleep: the queue's event fd is watched with the
running loop's add_reader while something awaits):

    ev = await netdl.download_async(url, "pack.bin")   # the ended event
    ev = await asyncio.wait_for(netdl.request_async(url), 10)  # a cancel calls net_cancel
    async for ev in netdl.aevents(rid): ...            # rid's events, until it ended

Async consumers come first: an event of an id that download_async /
request_async / aevents(ids) is waiting for, and every event while an
aevents() without ids runs, goes to them; poll()/wait()/events() get the
rest (also those a loop's reader took from the library meanwhile).
"""
import asyncio
import collections
import ctypes
import enum
import math
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Deque, Dict, Iterator, List, Optional, Set, Tuple, Union

from . import _ffi

__all__ = [
    "Dir", "ErrorCode", "BodyType", "Progress", "EventFlag", "Headers", "Event",
    "DOCUMENTS", "TEMPORARY", "CACHES", "APPLICATION_SUPPORT", "RESOURCE",
    "download", "request", "cancel", "poll", "wait", "events", "download_async",
    "request_async", "aevents", "set_directory",
    "get_directory", "set_app_name", "set_limits", "suspend", "resume", "restore", "set_priority",
    "set_max_speed", "MAX_TAG", "shutdown", "error_name", "library_path",
]


class Dir(enum.IntEnum):
    """A base directory (`NET_DIR_*`)."""
    DOCUMENTS = 0
    TEMPORARY = 1
    CACHES = 2
    APPLICATION_SUPPORT = 3
    RESOURCE = 4


DOCUMENTS, TEMPORARY, CACHES, APPLICATION_SUPPORT, RESOURCE = Dir


class ErrorCode(enum.IntEnum):
    """What went wrong (`NET_ERROR_*`). A code this module does not know
    (from a newer library) stays a plain int in events."""
    NONE = 0
    INVALID_ARGUMENT = 1
    UNSUPPORTED_SCHEME = 2
    DNS = 3
    CONNECT = 4
    TLS = 5
    TIMEOUT = 6
    NETWORK = 7
    PROTOCOL = 8
    TOO_MANY_REDIRECTS = 9
    TOO_LARGE = 10
    IO = 11
    INTERNAL = 12
    INTEGRITY = 13  # the size or SHA-256 differs from expected_size / sha256


class BodyType(enum.IntEnum):
    """How a request body is labelled when no Content-Type header is given
    (`NET_BODY_*`)."""
    AUTO = 0    # form-urlencoded for a body, octet-stream for a body_file
    TEXT = 1    # application/x-www-form-urlencoded
    BINARY = 2  # application/octet-stream


class Progress(enum.IntEnum):
    """What began/progress events report (`NET_PROGRESS_*`); also given as
    progress="download" or progress="upload"."""
    DOWNLOAD = 0  # the response body being received
    UPLOAD = 1    # the request body being sent


class EventFlag(enum.IntFlag):
    """Bits of `Event.flags` (`NET_EVENT_*`)."""
    UNCHANGED = 1  # if_changed: the server answered 304, the file on disk is current
    RESUMED = 2    # this attempt continued data received earlier (a Range request)
    RESTORED = 4   # started by restore() from the journal of an earlier process


MAX_TAG = 1024  # longest tag, in bytes (NET_MAX_TAG)


_PHASES = {0: "began", 1: "progress", 2: "ended"}
_BATCH = 64
_WAIT_SLICE_MS = 200  # longest C wait: bounds how long shutdown() waits for a waiter

_lib, library_path = _ffi.load()
__version__ = _lib.net_version().decode()

# Every id this module started (or restore() did: from its first event on)
# and has not seen end (or cancelled), with its user_data: C only ever sees
# the id. Guarded by _lock, which is never held
# while blocking; so is _queue's lifetime (every request names it).
_live: Dict[int, Any] = {}
_lock = threading.Lock()
_queue = _lib.net_queue_create()  # None only if the library was shut down already
# Serializes taking events from the library *and copying them*: the memory
# of a batch is freed by the next net_poll/net_wait/net_shutdown, on any
# thread. _buf is only used under it.
_poll_lock = threading.Lock()
_buf = (_ffi.NetEvent * _BATCH)()
_closed = False


class Headers:
    """Response headers, in the order received. Names match case-insensitively;
    a repeated name (Set-Cookie) keeps every value.

        ev.headers["content-type"]          # the first value; KeyError if absent
        ev.headers.get("etag")              # or None
        ev.headers.get_all("set-cookie")    # every value, in order; [] if absent
        for name, value in ev.headers: ...  # every line, in order
    """
    __slots__ = ("_pairs",)

    def __init__(self, pairs=()):
        self._pairs: Tuple[Tuple[str, str], ...] = tuple((str(n), str(v)) for n, v in pairs)

    def get_all(self, name: str) -> List[str]:
        key = name.lower()
        return [v for n, v in self._pairs if n.lower() == key]

    def get(self, name: str, default: Optional[str] = None) -> Optional[str]:
        key = name.lower()
        return next((v for n, v in self._pairs if n.lower() == key), default)

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __iter__(self) -> Iterator[Tuple[str, str]]:
        return iter(self._pairs)

    def __len__(self) -> int:
        return len(self._pairs)

    def keys(self) -> List[str]:
        """Each name once, as first received, in order."""
        seen, out = set(), []
        for n, _ in self._pairs:
            if n.lower() not in seen:
                seen.add(n.lower())
                out.append(n)
        return out

    def items(self) -> List[Tuple[str, str]]:
        return list(self._pairs)

    def values(self) -> List[str]:
        return [v for _, v in self._pairs]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Headers) and self._pairs == other._pairs

    def __hash__(self) -> int:
        return hash(self._pairs)

    def __repr__(self) -> str:
        return f"Headers({list(self._pairs)!r})"


@dataclass(frozen=True)
class Event:
    id: int
    user_data: Any
    phase: str  # "began" | "progress" | "ended"
    is_error: bool
    error_code: Union[ErrorCode, int]
    error: str
    status: int
    bytes_transferred: int
    bytes_estimated: int  # -1 when unknown
    url: str
    headers: Headers = field(default_factory=Headers)
    path: Optional[str] = None
    body: Optional[bytes] = None
    filename: Optional[str] = None
    base_dir: Union[Dir, int, None] = None
    response_type: str = "binary"
    attempt: int = 1  # 1 for the first attempt, n + 1 for the n-th retry or mirror
    flags: EventFlag = EventFlag(0)
    bytes_received: int = 0  # body bytes from the network, over every attempt
    tag: Optional[str] = None  # the request's tag option; None when it has none

    @property
    def unchanged(self) -> bool:
        """if_changed: the file on disk was current (304) and was not touched."""
        return EventFlag.UNCHANGED in self.flags

    @property
    def resumed(self) -> bool:
        """This attempt continued data received earlier."""
        return EventFlag.RESUMED in self.flags

    @property
    def restored(self) -> bool:
        """Started by restore() from the journal of an earlier process."""
        return EventFlag.RESTORED in self.flags

    @property
    def error_name(self) -> str:
        return error_name(self.error_code)

    @property
    def ok(self) -> bool:
        """A 2xx response without transport error."""
        return not self.is_error and 200 <= self.status < 300


def error_name(code: int) -> str:
    """"NET_ERROR_TIMEOUT" for 6; "NET_ERROR_UNKNOWN" for codes the library does not know."""
    return _lib.net_error_name(code).decode()


def _enum(cls, value: int):
    try:
        return cls(value)
    except ValueError:
        return value


# --- Arguments -------------------------------------------------------------

def _cstr(value, what: str) -> bytes:
    if isinstance(value, str):
        data = value.encode()
    elif isinstance(value, (bytes, os.PathLike)):
        data = os.fsencode(value)
    else:
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    if b"\0" in data:
        raise ValueError(f"{what} contains a NUL character")
    return data


def _count(value, what: str, bits: int, least: int = 1) -> int:
    """A whole number from `least` to 2**bits - 1."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    if not least <= value < 2 ** bits:
        raise ValueError(f"{what} must be from {least} to {2 ** bits - 1}, not {value}")
    return value


def _int32(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    if not -2 ** 31 <= value < 2 ** 31:
        raise ValueError(f"{what} must be from {-2 ** 31} to {2 ** 31 - 1}, not {value}")
    return value


def _flag(value, what: str) -> int:
    if not isinstance(value, bool):
        raise TypeError(f"{what} must be a bool, not {type(value).__name__}")
    return 1 if value else 0


def _options(keep: List[Any], *, max_retries: Optional[int] = None,
             retry_delay_ms: Optional[int] = None, retry_max_delay_ms: Optional[int] = None,
             expected_size: Optional[int] = None, sha256: Optional[str] = None,
             mirrors=None, proxy: Optional[str] = None, compress: bool = False,
             keep_partial: bool = False, if_changed: bool = False,
             segments: Optional[int] = None, priority: Optional[int] = None,
             persist: bool = False, max_speed: Optional[int] = None, tag: Optional[str] = None):
    """A `net_options` (size set) from the keywords, or None when every one
    is its default. What it points into is appended to `keep`. Values the
    library checks (max_retries <= 100, the sha256 digits, the mirrors'
    URLs, segments <= 16, a tag of at most MAX_TAG bytes, persist on a
    download) reach it as given: a bad one is an error event."""
    default = _ffi.NetOptions(size=ctypes.sizeof(_ffi.NetOptions))
    o = _ffi.NetOptions(size=ctypes.sizeof(_ffi.NetOptions))
    if max_retries is not None:
        o.max_retries = _count(max_retries, "max_retries", 32, least=0)
    # In C, 0 means the default: "no delay" and "no size" cannot be asked for.
    if retry_delay_ms is not None:
        o.retry_delay_ms = _count(retry_delay_ms, "retry_delay_ms", 32)
    if retry_max_delay_ms is not None:
        o.retry_max_delay_ms = _count(retry_max_delay_ms, "retry_max_delay_ms", 32)
    if expected_size is not None:
        o.expected_size = _count(expected_size, "expected_size", 64)
    if sha256 is not None:
        o.sha256 = _cstr(sha256, "sha256")
    if mirrors is not None:
        if isinstance(mirrors, (str, bytes)):
            raise TypeError("mirrors must be a list of URLs, not a single string")
        urls = [_cstr(url, "mirrors entry") for url in mirrors]
        arr = (ctypes.c_char_p * len(urls))(*urls)
        o.mirrors, o.mirror_count = arr, len(urls)
        keep += [urls, arr]
    if proxy is not None:
        o.proxy = _cstr(proxy, "proxy")
    o.compress = _flag(compress, "compress")
    o.keep_partial = _flag(keep_partial, "keep_partial")
    o.if_changed = _flag(if_changed, "if_changed")
    if segments is not None:
        o.segments = _count(segments, "segments", 32, least=0)
    if priority is not None:
        o.priority = _int32(priority, "priority")
    o.persist = _flag(persist, "persist")
    if max_speed is not None:
        o.max_speed = _count(max_speed, "max_speed", 64, least=0)
    if tag is not None:
        o.tag = _cstr(tag, "tag")
    if bytes(o) == bytes(default):
        return None  # net_params.options stays NULL
    keep.append(o)
    return o


def _timeout(value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"timeout must be a number of seconds, not {type(value).__name__}")
    if (isinstance(value, float) and not value.is_integer()) or not value >= 1:
        raise ValueError(f"timeout must be a whole number of seconds, at least 1 (the library "
                         f"counts whole seconds), not {value!r}")
    return _count(int(value), "timeout", 32)


def _params(*, headers=None, body=None, body_file=None, body_file_dir: int = Dir.DOCUMENTS,
            body_type: Optional[int] = None, progress: Union[bool, str, Progress] = False,
            timeout: Optional[float] = None, handle_redirects: bool = True,
            max_redirects: Optional[int] = None, ca_file=None, max_body: Optional[int] = None,
            **options):
    """The one place that fills `net_params` (and, through _options, the
    `net_options` it points to). Returns it and the buffers it points
    into, which must outlive the call that passes it."""
    p = _ffi.NetParams()
    keep: List[Any] = []
    o = _options(keep, **options)
    if o is not None:
        p.options = ctypes.pointer(o)
    if headers:
        items = list(headers.items()) if hasattr(headers, "items") else list(headers)
        arr = (_ffi.NetHeader * len(items))()
        for i, (name, value) in enumerate(items):
            arr[i].name = _cstr(name, "header name")
            arr[i].value = _cstr(value, f"header {name!r}")
        p.headers, p.header_count = arr, len(items)
        keep.append(arr)
    if body is not None and body_file is not None:
        raise ValueError("give body or body_file, not both")
    auto = BodyType.AUTO
    if body is not None:
        auto = BodyType.TEXT if isinstance(body, str) else BodyType.BINARY
        data = body.encode() if isinstance(body, str) else bytes(body)
        buf = ctypes.c_char_p(data)
        p.body, p.body_len = ctypes.cast(buf, ctypes.c_void_p), len(data)
        keep += [data, buf]
    if body_file is not None:
        p.body_file = _cstr(body_file, "body_file")
        p.body_file_dir = body_file_dir
    p.body_type = auto if body_type is None else body_type
    if isinstance(progress, str) or isinstance(progress, Progress):
        try:
            p.progress_of = Progress[progress.upper()] if isinstance(progress, str) else progress
        except KeyError:
            raise ValueError(f'progress must be True, False, "download" or "upload", '
                             f'not {progress!r}') from None
        p.progress = 1
    else:
        p.progress = 1 if progress else 0
    if timeout is not None:
        p.timeout = _timeout(timeout)
    p.no_redirects = 0 if handle_redirects else 1
    if max_redirects is not None:
        p.max_redirects = _count(max_redirects, "max_redirects", 32)
    if ca_file is not None:
        p.ca_file = _cstr(ca_file, "ca_file")
    if max_body is not None:
        p.max_body = _count(max_body, "max_body", 64)
    return p, keep


def _start(call, p: "_ffi.NetParams", user_data, waiter: Optional["_Waiter"] = None) -> int:
    # Registered under the lock that delivery takes, so no poll can see the
    # id's events before it is known (nor before its waiter is);
    # shutdown() destroys the queue under it.
    with _lock:
        p.queue = _queue
        rid = call()
        if rid:
            _live[rid] = user_data
            if waiter is not None:
                waiter.ids.add(rid)
                _by_id.setdefault(rid, []).append(waiter)
    return rid


def _download_args(url, filename, method, base_dir, options):
    """download()'s and download_async()'s net_params, what it points into
    (keep it alive until the call returned) and the call."""
    p, keep = _params(**options)
    args = (_cstr(url, "url"), _cstr(method, "method"), _cstr(filename, "filename"))
    return p, keep, lambda: _lib.net_download(args[0], args[1], ctypes.byref(p), args[2], base_dir)


def _request_args(url, method, options):
    """As _download_args, for request() and request_async()."""
    p, keep = _params(**options)
    args = (_cstr(url, "url"), _cstr(method, "method"))
    return p, keep, lambda: _lib.net_request(args[0], args[1], ctypes.byref(p))


def download(url: str, filename: str, *, method: str = "GET", base_dir: int = Dir.DOCUMENTS,
             user_data: Any = None, **options) -> int:
    """Starts downloading `url` into `filename` inside `base_dir`; returns its id
    (0 only after shutdown()). Every failure arrives as an `ended` event with
    `is_error` set; arguments C cannot carry raise ValueError or TypeError.

    Options (all keyword):
      headers           dict, Headers or (name, value) pairs
      body              str (sent UTF-8, labelled text) or bytes-like (labelled binary)
      body_file         a file to send instead, relative to body_file_dir (default DOCUMENTS)
      body_type         BodyType: the label when no Content-Type header is given
      progress          True or "download": began and progress events of the response
                        body; "upload": of the request body
      timeout           inactivity limit, whole seconds >= 1 (default 30)
      handle_redirects  False: report a 3xx instead of following it
      max_redirects     redirects followed at most (default 10)
      ca_file           PEM file of CA certificates to trust instead of the system's
      max_body          largest response body accepted, bytes (NET_ERROR_TOO_LARGE)

    Reliability options (net_options; each default is netdl's):
      max_retries       retries of a transient failure (default 0, at most 100), with
                        backoff; events carry `attempt`
      retry_delay_ms    base of the backoff in ms (default 1000)
      retry_max_delay_ms  cap of the backoff in ms (default 30000)
      expected_size     the file's size in bytes (NET_ERROR_INTEGRITY otherwise)
      sha256            the file's SHA-256, 64 hex digits (NET_ERROR_INTEGRITY otherwise;
                        the target is left as it was)
      mirrors           other URLs of the same file, tried in order after url failed;
                        the ended event's url is the one that delivered it
      proxy             "http://host:port", "socks5h://host:port", ...; "" for none
                        (default: the environment's http_proxy/https_proxy/no_proxy)
      compress          True: ask for a compressed response (cannot resume)
      keep_partial      True: a cancel keeps the partial data for a later resume
      if_changed        True: ask the server whether the existing file changed; a 304
                        ends with Event.unchanged and the file untouched
      segments          fetch a large file over up to this many ranged connections at
                        once (at most 16; 0 or 1: one), when the server allows ranges
                        and each part is at least 4 MiB
      priority          higher starts first (default 0; negative is lower); queued requests
                        start by priority, then in submission order; see set_priority()
      max_speed         largest receive rate of this request, bytes/s (default 0: none)
      tag               a str of the app's choosing (at most MAX_TAG bytes, UTF-8), echoed
                        in every event's `tag`; it survives in the journal (persist)
      persist           True: record the download in the journal (in APPLICATION_SUPPORT)
                        so that restore() in a later process continues it
    """
    # keep: what p points into, alive until the call returned
    p, keep, call = _download_args(url, filename, method, base_dir, options)
    return _start(call, p, user_data)


def request(url: str, method: str = "GET", *, user_data: Any = None, **options) -> int:
    """Starts a request whose response body arrives in the `ended` event's
    `body`. Options as download()'s (max_body defaults to 64 MiB here); the
    library rejects the download-only ones (expected_size, sha256, compress,
    keep_partial, if_changed, segments > 1, persist) with an INVALID_ARGUMENT event."""
    # keep: what p points into, alive until the call returned
    p, keep, call = _request_args(url, method, options)
    return _start(call, p, user_data)


def cancel(id: int) -> bool:
    """True if the request was still live; no event of it is delivered afterwards.
    Never blocks. A download_async()/request_async() awaiting it raises
    asyncio.CancelledError; an aevents() naming it stops waiting for it."""
    with _lock:
        live = bool(_lib.net_cancel(id))
        if live:
            _forget_id(id)
    return live


# --- Events ----------------------------------------------------------------

def _s(p: Optional[bytes]) -> Optional[str]:
    return None if p is None else p.decode("utf-8", "replace")


def _copy(e: "_ffi.NetEvent") -> Dict[str, Any]:
    """The fields of one C event, copied into Python objects."""
    headers = Headers((e.headers[i].name.decode("latin-1"), e.headers[i].value.decode("latin-1"))
                      for i in range(e.header_count))
    return dict(
        id=e.id, phase=_PHASES.get(e.phase, str(e.phase)), is_error=bool(e.is_error),
        error_code=_enum(ErrorCode, e.error_code), error=_s(e.error) or "", status=e.status,
        bytes_transferred=e.bytes_transferred, bytes_estimated=e.bytes_estimated,
        url=_s(e.url) or "", headers=headers, path=_s(e.path),
        body=ctypes.string_at(e.body, e.body_len) if e.body else None,
        filename=_s(e.filename),
        base_dir=_enum(Dir, e.base_dir) if e.filename is not None else None,
        response_type="text" if e.response_type == 0 else "binary",
        attempt=e.attempt, flags=EventFlag(e.flags), bytes_received=e.bytes_received,
        tag=_s(e.tag))


def _fetch(wait_ms: Optional[int]) -> int:
    """The one place that takes events from the library (this module's
    queue), into _buf (under _poll_lock): waits up to `wait_ms` for the
    first one unless None."""
    if wait_ms is None:
        return _lib.net_queue_poll(_queue, _buf, _BATCH)
    return _lib.net_queue_wait(_queue, _buf, _BATCH, wait_ms)


def _take(wait_ms: Optional[int], for_loop: bool = False) -> List[Event]:
    """Every pending event, copied (under _poll_lock). Those an async
    consumer wants go to it (_route); the others are returned, after those
    a loop's reader left in _backlog; or, for a loop's reader (for_loop),
    added to _backlog."""
    if _backlog and not for_loop:
        wait_ms = None  # events are waiting already
    raw = []
    n = _fetch(wait_ms)
    while True:
        raw.extend(_copy(_buf[i]) for i in range(n))
        if n < _BATCH:
            break
        n = _fetch(None)
    out: List[Event] = []
    with _lock:
        if not for_loop:
            out.extend(_backlog)
            _backlog.clear()
        for f in raw:
            if f["id"] not in _live:
                if not _first_of_restored(f):
                    continue  # cancelled meanwhile, or not started by this module
                _live[f["id"]] = None
            user = _live.pop(f["id"]) if f["phase"] == "ended" else _live[f["id"]]
            ev = Event(user_data=user, **f)
            if not _route(ev):
                (_backlog if for_loop else out).append(ev)
    return out


def _first_of_restored(f: Dict[str, Any]) -> bool:
    """Whether `f`, of an id this module does not know, is the first event of
    a download restore() started: a began (or the ended of one that could
    not start) with the RESTORED flag. Only restore() puts those in this
    queue, and no later event of an id the app cancelled can look like one
    (its began came before the app knew the id; no ended follows a cancel)."""
    return EventFlag.RESTORED in f["flags"] and f["phase"] in ("began", "ended")


def poll() -> List[Event]:
    """Every pending event; never blocks. While another thread is taking
    events (or waiting in wait()), returns [] at once: that thread gets them.
    Events an async consumer waits for go to it instead (see aevents())."""
    if not _poll_lock.acquire(blocking=False):
        return []
    try:
        return [] if _closed else _take(None)
    finally:
        _poll_lock.release()


def wait(timeout: Optional[float] = None) -> List[Event]:
    """Waits up to `timeout` seconds (None: as long as it takes) for events and
    returns every pending one; [] when the time ran out (or after shutdown())."""
    if timeout is not None and not timeout >= 0:
        raise ValueError(f"timeout must be >= 0 seconds or None, not {timeout!r}")
    deadline = None if timeout is None else time.monotonic() + timeout
    while not _closed:
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        if not _poll_lock.acquire(timeout=-1 if left is None else left):
            return []
        try:
            if _closed:
                return []
            ms = _WAIT_SLICE_MS if left is None else min(_WAIT_SLICE_MS, math.ceil(left * 1000))
            got = _take(ms)
        finally:
            _poll_lock.release()
        if got or (deadline is not None and time.monotonic() >= deadline):
            return got
    return []


def events(*ids: int, timeout: float = 30.0) -> Iterator[Event]:
    """Yields events until every id in `ids` has ended (raises TimeoutError
    when `timeout` seconds pass without any event). Events of other ids are
    yielded too; those another thread's poll() or wait() takes are not."""
    left = set(ids)
    while left:
        batch = wait(timeout)
        if not batch:
            raise TimeoutError(f"no event within {timeout} s; waiting for {sorted(left)}")
        for ev in batch:
            if ev.phase == "ended":
                left.discard(ev.id)
            yield ev


# --- asyncio ---------------------------------------------------------------
#
# A loop that awaits anything of this module watches the queue's event fd
# (net_queue_event_fd) with add_reader: once per loop, added by the first
# await and removed when the last one finishes. Its callback takes every
# pending event and routes it: to the async consumers of the event
# (_Waiter, _Stream), on their loop's thread; what none of them wants is
# kept in _backlog for poll()/wait(). Whoever takes an event from the
# library (a reader or a poll()/wait() on any thread) routes it the same
# way. All of this state is guarded by _lock.

_SHUT = "netdl.shutdown() was called"
_SHUTDOWN = object()  # handed to every async consumer by shutdown()


@dataclass(frozen=True)
class _Cancelled:
    """Handed to the consumers of an id that cancel() stopped."""
    id: int


class _Waiter:
    """One download_async() / request_async(): the future its ended event resolves."""

    def __init__(self, loop):
        self.loop, self.thread, self.ids = loop, threading.get_ident(), set()
        self.fut = loop.create_future()

    def deliver(self, item) -> None:  # on the loop's thread
        if self.fut.done():
            return
        if item is _SHUTDOWN:
            self.fut.set_exception(RuntimeError(_SHUT))
        elif isinstance(item, _Cancelled):
            self.fut.cancel()
        elif item.phase == "ended":
            self.fut.set_result(item)


class _Stream:
    """One aevents(): what it was handed and has not yielded yet."""

    def __init__(self, loop, ids):
        self.loop, self.thread, self.ids = loop, threading.get_ident(), set(ids)
        self.pending: Deque[Any] = collections.deque()
        self.wakeup: Optional[asyncio.Future] = None

    def deliver(self, item) -> None:  # on the loop's thread
        if isinstance(item, _Cancelled):  # no event of it after cancel(), not even one handed over
            self.pending = collections.deque(
                e for e in self.pending if not (isinstance(e, Event) and e.id == item.id))
        self.pending.append(item)
        if self.wakeup is not None and not self.wakeup.done():
            self.wakeup.set_result(None)


class _LoopState:
    def __init__(self):
        self.thread = threading.get_ident()
        self.count = 0  # awaits in progress on the loop


_by_id: Dict[int, List[Any]] = {}  # id -> its _Waiter and the _Streams naming it
_watchers: List[_Stream] = []  # aevents() without ids: every event
_backlog: Deque[Event] = collections.deque()  # taken by a reader, wanted by no async consumer
_loops: Dict[Any, _LoopState] = {}  # loops with the reader added
_fd = -1  # net_queue_event_fd(_queue), asked by the first await


def _send(sub, item) -> None:
    """(under _lock) Hands `item` to an async consumer on its loop's thread."""
    try:
        if sub.loop.is_closed():
            raise RuntimeError("closed")
        if threading.get_ident() == sub.thread:
            sub.deliver(item)
        else:
            sub.loop.call_soon_threadsafe(sub.deliver, item)
    except RuntimeError:  # its loop was closed while it waited
        _forget_loop(sub.loop)


def _route(ev: Event) -> bool:
    """(under _lock) Hands `ev` to the download_async() and aevents(ids) of
    its id and to every aevents() without ids. False if there is none."""
    subs = _by_id.pop(ev.id, []) if ev.phase == "ended" else list(_by_id.get(ev.id, ()))
    subs += _watchers
    for sub in subs:
        _send(sub, ev)
    return bool(subs)


def _forget_id(rid: int) -> None:
    """(under _lock) After net_cancel(rid) returned true: no event of it
    reaches anyone from now on."""
    _live.pop(rid, None)
    kept = [ev for ev in _backlog if ev.id != rid]
    _backlog.clear()
    _backlog.extend(kept)
    subs = {id(s): s for s in _by_id.pop(rid, []) + _watchers}
    for sub in subs.values():
        _send(sub, _Cancelled(rid))


def _forget_loop(loop) -> None:
    """(under _lock) `loop` was closed while consumers on it waited (their
    tasks will never run again): drops them and cancels the requests its
    download_async() / request_async() started. Its reader went with its
    selector."""
    _loops.pop(loop, None)
    _watchers[:] = [s for s in _watchers if s.loop is not loop]
    owned = []
    for rid, subs in list(_by_id.items()):
        owned += [rid for s in subs if s.loop is loop and isinstance(s, _Waiter)]
        subs[:] = [s for s in subs if s.loop is not loop]
        if not subs:
            del _by_id[rid]
    for rid in owned:
        if _lib.net_cancel(rid):
            _forget_id(rid)


def _unsubscribe(sub) -> None:
    """(under _lock)"""
    if sub in _watchers:
        _watchers.remove(sub)
    for rid in sub.ids:
        subs = _by_id.get(rid, [])
        if sub in subs:
            subs.remove(sub)
            if not subs:
                del _by_id[rid]


def _on_readable() -> None:
    """A loop's reader: events wait in the queue. Takes them all (_take
    polls until a poll returns less than its capacity, which leaves the fd
    unreadable) and routes them. Never blocks the loop: while another
    thread takes events, that thread routes them (the fd stays readable
    until it has, so this may run again first)."""
    if not _poll_lock.acquire(blocking=False):
        return
    try:
        if not _closed:
            _take(None, for_loop=True)
    finally:
        _poll_lock.release()


def _attach(loop) -> None:
    """One more await on `loop` (its thread): the first adds the reader."""
    global _fd
    with _lock:
        if _closed:
            raise RuntimeError(_SHUT)
        for other in [other for other in _loops if other.is_closed()]:
            _forget_loop(other)
        state = _loops.get(loop)
        if state is None:
            if _fd < 0:
                fd = _lib.net_queue_event_fd(_queue)
                if fd < 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"netdl: no event fd: {os.strerror(err)}")
                _fd = fd
            loop.add_reader(_fd, _on_readable)
            state = _loops[loop] = _LoopState()
        state.count += 1


def _detach(loop) -> None:
    """One await on `loop` finished: the last removes the reader."""
    with _lock:
        state = _loops.get(loop)
        if state is None:
            return  # shutdown() or _forget_loop took it out already
        state.count -= 1
        if state.count == 0:
            del _loops[loop]
            loop.remove_reader(_fd)


def _unhook_loops() -> None:
    """shutdown(): takes the reader out of every loop before the fd is
    closed; on another thread's running loop through call_soon_threadsafe,
    waiting up to 1 s for it."""
    with _lock:
        hooked = list(_loops.items())
        _loops.clear()
    for loop, state in hooked:
        if state.thread == threading.get_ident() or loop.is_closed():
            loop.remove_reader(_fd)
            continue
        done = threading.Event()

        def remove(loop=loop, done=done):
            loop.remove_reader(_fd)
            done.set()
        try:
            loop.call_soon_threadsafe(remove)
        except RuntimeError:
            continue  # closed meanwhile: its selector is gone
        done.wait(1.0)


async def _await_end(p: "_ffi.NetParams", call, user_data) -> Event:
    loop = asyncio.get_running_loop()
    waiter = _Waiter(loop)
    _attach(loop)
    try:
        rid = _start(call, p, user_data, waiter)
        if not rid:
            raise RuntimeError(_SHUT)
        try:
            return await waiter.fut
        except BaseException:  # cancelled (task.cancel, wait_for's timeout), or shut down
            cancel(rid)  # returns False, and there is nothing to undo, if it had ended
            raise
        finally:
            with _lock:
                _unsubscribe(waiter)
    finally:
        _detach(loop)


async def download_async(url: str, filename: str, *, method: str = "GET",
                         base_dir: int = Dir.DOCUMENTS, user_data: Any = None,
                         **options) -> Event:
    """download() for asyncio: returns its `ended` event (a failure is an
    event with is_error set, as in download(); bad arguments raise
    ValueError or TypeError). Same arguments as download().

    Cancelling the awaiting task (task.cancel(), asyncio.wait_for's
    timeout, asyncio.timeout) cancels the download (net_cancel: no partial
    file stays) and raises CancelledError; so does netdl.cancel(id) of its
    id. A cancel that comes after the download ended leaves its file.
    Its began/progress events (progress=True) go to an aevents() without
    ids, if one runs; use download() and aevents(id) to follow one
    download's progress. RuntimeError after shutdown(), which also ends
    every await in progress with it."""
    # keep: what p points into, alive until the call returned
    p, keep, call = _download_args(url, filename, method, base_dir, options)
    return await _await_end(p, call, user_data)


async def request_async(url: str, method: str = "GET", *, user_data: Any = None,
                        **options) -> Event:
    """request() for asyncio: returns its `ended` event, whose `body` is the
    response body. As download_async() otherwise."""
    # keep: what p points into, alive until the call returned
    p, keep, call = _request_args(url, method, options)
    return await _await_end(p, call, user_data)


def _subscribe(stream: _Stream) -> Optional[Set[int]]:
    """(under _lock) Registers an aevents() and hands it what _backlog holds
    for it. Returns the ids it waits to end (None: none, it runs until
    stopped): those live, and those whose ended event it was just handed."""
    if not stream.ids:
        _watchers.append(stream)
        stream.pending.extend(_backlog)
        _backlog.clear()
        return None
    mine = [ev for ev in _backlog if ev.id in stream.ids]
    rest = [ev for ev in _backlog if ev.id not in stream.ids]
    _backlog.clear()
    _backlog.extend(rest)
    stream.pending.extend(mine)
    left = {ev.id for ev in mine if ev.phase == "ended"}
    for rid in stream.ids:
        if rid in _live:
            _by_id.setdefault(rid, []).append(stream)
            left.add(rid)
    return left


async def aevents(*ids: int) -> AsyncIterator[Event]:
    """The async twin of events(): yields the events of `ids` as they come,
    until each of them ended (or was cancelled with netdl.cancel). An id
    that is not live (it ended and its events were taken, it was cancelled,
    or this module did not start it) is not waited for.

    Without ids: yields every event of this module's queue, those of
    download_async() / request_async() too (they still get their ended
    event), until the loop stops iterating or shutdown() is called.

        rid = netdl.download(url, "pack.bin", progress=True)
        async for ev in netdl.aevents(rid):
            print(ev.phase, ev.bytes_transferred)

    An event goes to every async consumer that wants it (two aevents()
    naming one id both yield its events); poll(), wait() and events() get
    only the events no async consumer wants. Events taken before it
    started are not replayed, except those a loop's reader kept for poll().
    Time limits: asyncio.timeout(). To stop early and unsubscribe at once
    (rather than when the generator is collected), iterate under
    contextlib.aclosing(netdl.aevents(...))."""
    if _closed:
        return
    loop = asyncio.get_running_loop()
    stream = _Stream(loop, ids)
    _attach(loop)
    try:
        with _lock:
            left = _subscribe(stream)
        while left is None or left:
            if not stream.pending:
                stream.wakeup = loop.create_future()
                await stream.wakeup
                continue
            item = stream.pending.popleft()
            if item is _SHUTDOWN:
                return
            if isinstance(item, _Cancelled):
                if left is not None:
                    left.discard(item.id)
                continue
            if left is not None and item.phase == "ended":
                left.discard(item.id)
            yield item
    finally:
        with _lock:
            _unsubscribe(stream)
        _detach(loop)


# --- Settings --------------------------------------------------------------

def set_directory(base_dir: int, path) -> None:
    if not _lib.net_set_directory(base_dir, _cstr(path, "path")):
        raise ValueError(f"cannot set directory {base_dir} to {path!r} (it must be absolute)")


def get_directory(base_dir: int) -> str:
    n = _lib.net_get_directory(base_dir, None, 0)
    buf = ctypes.create_string_buffer(n + 1)
    _lib.net_get_directory(base_dir, buf, n + 1)
    return buf.value.decode()


def set_app_name(name: str) -> None:
    if not _lib.net_set_app_name(_cstr(name, "name")):
        raise ValueError(f"invalid application name {name!r}")


def set_limits(max_transfers: int, max_per_host: int) -> None:
    if not _lib.net_set_limits(_count(max_transfers, "max_transfers", 32),
                               _count(max_per_host, "max_per_host", 32)):
        raise ValueError("limits must be at least 1")


def suspend() -> None:
    """Pauses every transfer at once (net_suspend), for an app going to the
    background: no byte moves, partial data is kept, queued requests do not
    start, inactivity timeouts do not run; no event comes while suspended
    except the ended of a request failing for local reasons. New requests
    wait. Idempotent, never blocks, any thread."""
    _lib.net_suspend()


def resume() -> None:
    """Ends suspend() (net_resume): downloads continue where their data ends
    (a Range request), interrupted in-memory requests start again, queued
    ones start. Idempotent, never blocks, any thread."""
    _lib.net_resume()


def restore() -> int:
    """Starts again every download of the journal (persist=True) an earlier
    process left unfinished and returns how many (net_queue_restore on this
    module's queue). Call it after set_app_name() /
    set_directory(APPLICATION_SUPPORT, ...): the journal is there.

    Their events come like any other's: from poll(), wait() and events(),
    or an aevents() without ids. Each restored download has a new id, learnt
    from its first event, a "began" (even without progress=True; its
    bytes_transferred is the data it continues); every event of it has
    Event.restored set and its tag (how the app recognises it), user_data
    None. aevents(id) and cancel(id) work with that id once its began was
    seen. A restored download that cannot start has only an "ended" event
    (is_error). 0 after shutdown().

        netdl.set_directory(netdl.APPLICATION_SUPPORT, support)
        netdl.restore()
        for ev in netdl.poll():              # each frame
            if ev.restored and ev.phase == "began":
                packs[ev.tag].id = ev.id"""
    with _lock:  # shutdown() destroys the queue under it
        if _closed or _queue is None:
            return 0  # NULL would send their events to the default queue
        return _lib.net_queue_restore(_queue)


def set_priority(id: int, priority: int) -> bool:
    """Changes a request's priority (net_set_priority): a queued one moves
    to its new place (after those queued with that priority already); a
    running one changes only its share of a bandwidth cap. False when the
    id is not queued or running (unknown, ended, cancelled)."""
    return bool(_lib.net_set_priority(_count(id, "id", 64, least=0), _int32(priority, "priority")))


def set_max_speed(bytes_per_second: int) -> None:
    """Caps the receive rate of all transfers together, bytes per second
    (0: no cap, the default); running transfers share it by priority, each
    also within its own max_speed. Applies within a second."""
    _lib.net_set_max_speed(_count(bytes_per_second, "bytes_per_second", 64, least=0))


def shutdown() -> None:
    """Stops everything and frees the library's memory. Final for the process:
    threads in wait() return [] (within 0.2 s), download_async() and
    request_async() raise RuntimeError, aevents() stop; the reader is taken
    out of every loop first."""
    global _closed, _queue
    _closed = True
    _unhook_loops()  # before the fd closes
    with _poll_lock:  # no copy may read the batch net_shutdown frees
        _lib.net_shutdown()
        with _lock:
            _lib.net_queue_destroy(_queue)
            _queue = None
            _live.clear()
            subs = {id(s): s for s in _watchers + [s for ss in _by_id.values() for s in ss]}
            _by_id.clear()
            _watchers.clear()
            _backlog.clear()
            for sub in subs.values():
                _send(sub, _SHUTDOWN)
