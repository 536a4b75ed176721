"""ctypes mirror of include/netdl.h (sizes checked at import)."""
import ctypes
import ctypes.util
import os

c_id = ctypes.c_uint64


class NetHeader(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("value", ctypes.c_char_p)]


class NetParams(ctypes.Structure):
    _fields_ = [
        ("headers", ctypes.POINTER(NetHeader)),
        ("header_count", ctypes.c_size_t),
        ("body", ctypes.c_void_p),
        ("body_len", ctypes.c_size_t),
        ("timeout", ctypes.c_uint32),
        ("progress", ctypes.c_bool),
        ("user_data", ctypes.c_void_p),
        ("body_type", ctypes.c_uint32),
        ("body_file", ctypes.c_char_p),
        ("body_file_dir", ctypes.c_uint32),
        ("no_redirects", ctypes.c_bool),
        ("max_redirects", ctypes.c_uint32),
        ("ca_file", ctypes.c_char_p),
        ("max_body", ctypes.c_uint64),
        ("reserved", ctypes.c_uint64 * 8),
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
        ("reserved", ctypes.c_uint64 * 8),
    ]


# The C library pins these sizes (tests/header.rs); a mismatch means this
# mirror is out of date.
assert ctypes.sizeof(NetParams) == 160, ctypes.sizeof(NetParams)
assert ctypes.sizeof(NetEvent) == 192, ctypes.sizeof(NetEvent)


def load():
    """The library: $NETDL_LIB (a full path) if set, else the linker path."""
    path = os.environ.get("NETDL_LIB") or ctypes.util.find_library("netdl")
    if not path:
        raise OSError("libnetdl not found: set NETDL_LIB to the library's full path")
    lib = ctypes.CDLL(path)
    sig = {
        "net_download": (c_id, [ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(NetParams),
                                ctypes.c_char_p, ctypes.c_uint32]),
        "net_request": (c_id, [ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(NetParams)]),
        "net_cancel": (ctypes.c_bool, [c_id]),
        "net_poll": (ctypes.c_size_t, [ctypes.POINTER(NetEvent), ctypes.c_size_t]),
        "net_wait": (ctypes.c_size_t, [ctypes.POINTER(NetEvent), ctypes.c_size_t, ctypes.c_uint32]),
        "net_set_directory": (ctypes.c_bool, [ctypes.c_uint32, ctypes.c_char_p]),
        "net_get_directory": (ctypes.c_size_t, [ctypes.c_uint32, ctypes.c_char_p, ctypes.c_size_t]),
        "net_set_app_name": (ctypes.c_bool, [ctypes.c_char_p]),
        "net_set_limits": (ctypes.c_bool, [ctypes.c_uint32, ctypes.c_uint32]),
        "net_shutdown": (None, []),
        "net_version": (ctypes.c_char_p, []),
        "net_error_name": (ctypes.c_char_p, [ctypes.c_uint32]),
    }
    for name, (restype, argtypes) in sig.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = restype, argtypes
    return lib
