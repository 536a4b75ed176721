"""ctypes mirror of include/netdl.h, and finding the library.

tests/test_layout.py compiles a C program against the header and checks
every field's offset and every struct's size against these classes.
"""
import ctypes
import ctypes.util
import os
import sys
from pathlib import Path
from typing import List, Tuple

c_id = ctypes.c_uint64

SONAME = "libnetdl.so.0"


class NetHeader(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("value", ctypes.c_char_p)]


class NetOptions(ctypes.Structure):
    # Reached from NetParams.options; `size` must be sizeof(NetOptions).
    _fields_ = [
        ("size", ctypes.c_uint32),
        ("max_retries", ctypes.c_uint32),
        ("retry_delay_ms", ctypes.c_uint32),
        ("retry_max_delay_ms", ctypes.c_uint32),
        ("expected_size", ctypes.c_uint64),
        ("sha256", ctypes.c_char_p),
        ("mirrors", ctypes.POINTER(ctypes.c_char_p)),
        ("mirror_count", ctypes.c_size_t),
        ("proxy", ctypes.c_char_p),
        ("compress", ctypes.c_uint8),
        ("keep_partial", ctypes.c_uint8),
        ("if_changed", ctypes.c_uint8),
        ("reserved8", ctypes.c_uint8),
        ("segments", ctypes.c_uint32),
        ("priority", ctypes.c_int32),
        ("persist", ctypes.c_uint8),
        ("reserved24", ctypes.c_uint8 * 3),
        ("max_speed", ctypes.c_uint64),
        ("tag", ctypes.c_char_p),
    ]


class NetParams(ctypes.Structure):
    # C booleans are read by the library as bytes (any non-zero is true):
    # uint8_t has the layout of bool.
    _fields_ = [
        ("headers", ctypes.POINTER(NetHeader)),
        ("header_count", ctypes.c_size_t),
        ("body", ctypes.c_void_p),
        ("body_len", ctypes.c_size_t),
        ("timeout", ctypes.c_uint32),
        ("progress", ctypes.c_uint8),
        ("user_data", ctypes.c_void_p),
        ("body_type", ctypes.c_uint32),
        ("body_file", ctypes.c_char_p),
        ("body_file_dir", ctypes.c_uint32),
        ("no_redirects", ctypes.c_uint8),
        ("max_redirects", ctypes.c_uint32),
        ("ca_file", ctypes.c_char_p),
        ("max_body", ctypes.c_uint64),
        ("queue", ctypes.c_void_p),
        ("progress_of", ctypes.c_uint32),
        ("reserved32", ctypes.c_uint32),
        ("options", ctypes.POINTER(NetOptions)),
        ("reserved", ctypes.c_uint64 * 5),
    ]


class NetEvent(ctypes.Structure):
    _fields_ = [
        ("id", c_id),
        ("user_data", ctypes.c_void_p),
        ("phase", ctypes.c_uint32),
        ("is_error", ctypes.c_bool),
        ("error_code", ctypes.c_uint32),
        ("error", ctypes.c_char_p),
        ("status", ctypes.c_int32),
        ("bytes_transferred", ctypes.c_int64),
        ("bytes_estimated", ctypes.c_int64),
        ("url", ctypes.c_char_p),
        ("headers", ctypes.POINTER(NetHeader)),
        ("header_count", ctypes.c_size_t),
        ("path", ctypes.c_char_p),
        ("body", ctypes.c_void_p),
        ("body_len", ctypes.c_size_t),
        ("response_type", ctypes.c_uint32),
        ("base_dir", ctypes.c_uint32),
        ("filename", ctypes.c_char_p),
        ("attempt", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("bytes_received", ctypes.c_int64),
        ("tag", ctypes.c_char_p),
        ("reserved", ctypes.c_uint64 * 5),
    ]


# The library pins these sizes for good (tests/header.rs): a mismatch means
# this mirror is wrong.
assert ctypes.sizeof(NetParams) == 160, ctypes.sizeof(NetParams)
assert ctypes.sizeof(NetEvent) == 192, ctypes.sizeof(NetEvent)

_SIGNATURES = {
    "net_download": (c_id, [ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(NetParams),
                            ctypes.c_char_p, ctypes.c_uint32]),
    "net_request": (c_id, [ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(NetParams)]),
    "net_cancel": (ctypes.c_bool, [c_id]),
    "net_poll": (ctypes.c_size_t, [ctypes.POINTER(NetEvent), ctypes.c_size_t]),
    "net_wait": (ctypes.c_size_t, [ctypes.POINTER(NetEvent), ctypes.c_size_t, ctypes.c_uint32]),
    "net_queue_create": (ctypes.c_void_p, []),
    "net_queue_destroy": (None, [ctypes.c_void_p]),
    "net_queue_poll": (ctypes.c_size_t, [ctypes.c_void_p, ctypes.POINTER(NetEvent), ctypes.c_size_t]),
    "net_queue_wait": (ctypes.c_size_t, [ctypes.c_void_p, ctypes.POINTER(NetEvent), ctypes.c_size_t,
                                         ctypes.c_uint32]),
    "net_event_fd": (ctypes.c_int, []),
    "net_queue_event_fd": (ctypes.c_int, [ctypes.c_void_p]),
    "net_set_directory": (ctypes.c_bool, [ctypes.c_uint32, ctypes.c_char_p]),
    "net_get_directory": (ctypes.c_size_t, [ctypes.c_uint32, ctypes.c_char_p, ctypes.c_size_t]),
    "net_set_app_name": (ctypes.c_bool, [ctypes.c_char_p]),
    "net_set_limits": (ctypes.c_bool, [ctypes.c_uint32, ctypes.c_uint32]),
    "net_suspend": (None, []),
    "net_resume": (None, []),
    "net_restore": (ctypes.c_size_t, []),
    "net_queue_restore": (ctypes.c_size_t, [ctypes.c_void_p]),
    "net_set_priority": (ctypes.c_bool, [c_id, ctypes.c_int32]),
    "net_set_max_speed": (None, [ctypes.c_uint64]),
    "net_shutdown": (None, []),
    "net_version": (ctypes.c_char_p, []),
    "net_error_name": (ctypes.c_char_p, [ctypes.c_uint32]),
}


def _bind(lib: ctypes.CDLL) -> ctypes.CDLL:
    for name, (restype, argtypes) in _SIGNATURES.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = restype, argtypes
    return lib


def _installed_libdir() -> List[str]:
    """`<prefix>/lib` when this package is installed under `<prefix>/lib/...`
    (site-packages of a venv, of `pip install --user` or `--prefix`)."""
    for parent in Path(__file__).resolve().parents:
        if parent.name in ("lib", "lib64"):
            return [str(parent)]
    return []


def candidates() -> List[str]:
    """Where the library is looked for, in order, when NETDL_LIB is unset."""
    dirs = _installed_libdir() + [os.path.join(p, "lib") for p in (sys.prefix, sys.base_prefix)]
    seen = []
    for d in dirs:
        path = os.path.join(d, SONAME)
        if path not in seen:
            seen.append(path)
    # A bare name: the dynamic linker's search (LD_LIBRARY_PATH, ld.so.cache,
    # the system's library directories).
    return seen + [SONAME]


def load() -> Tuple[ctypes.CDLL, str]:
    """The library and where it was loaded from: $NETDL_LIB (a full path) if
    set, else the first of `candidates()`, else what
    ctypes.util.find_library("netdl") finds."""
    env = os.environ.get("NETDL_LIB")
    if env:
        try:
            return _bind(ctypes.CDLL(env, use_errno=True)), env
        except OSError as e:
            raise OSError(f"netdl: cannot load NETDL_LIB={env!r}: {e}") from None
    tried = []
    for path in candidates():
        if os.sep in path and not os.path.exists(path):
            tried.append(f"{path} (no such file)")
            continue
        try:
            return _bind(ctypes.CDLL(path, use_errno=True)), path
        except OSError as e:
            tried.append(f"{path} ({e})")
    found = ctypes.util.find_library("netdl")
    if found:
        try:
            return _bind(ctypes.CDLL(found, use_errno=True)), found
        except OSError as e:
            tried.append(f"{found}, from ctypes.util.find_library ({e})")
    else:
        tried.append("ctypes.util.find_library('netdl') (found nothing)")
    raise OSError("netdl: the library libnetdl was not found. Set NETDL_LIB to its full path "
                  "(e.g. target/release/libnetdl.so) or install it (make install PREFIX=...). "
                  "Looked for:\n  " + "\n  ".join(tried))
