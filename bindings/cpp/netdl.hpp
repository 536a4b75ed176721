// netdl.hpp: a header-only C++17 wrapper over netdl.h.
//
//   auto req = netdl::download(url, "pack.bin", [](const netdl::Event &e) {
//       if (e.phase == netdl::Phase::Ended && e.ok()) use(*e.path);
//   }, netdl::Params().with_progress());
//   ...
//   netdl::poll();   // once per frame: calls the listeners, on this thread
//
// Requests. `download` and `request` return a `Request` that owns the
// request: destroying it (or calling cancel()) cancels the request at once,
// after which its listener is never called again. So keep it (the results
// are [[nodiscard]]), or call release() to let the request run detached.
//
// Events. The wrapper has its own netdl event queue (net_queue_create), so
// it never takes the events of C code or another binding in the same
// process that uses netdl's default queue or a queue of its own; restore()
// sends the restored downloads' events there too, to the listener it is
// given.
// poll() and wait() take a batch of events from that queue, copy every
// event of it into an owned `Event` (strings, headers and body included)
// before the first listener runs, then call the listeners on the calling
// thread, oldest event first. An `Event` may be kept.
//
// Listeners may do anything: start or cancel requests, destroy their own
// `Request`, call poll() or wait() again (the nested call first delivers
// the events still waiting from the outer batch, in order, then new ones;
// the outer call then has nothing left to deliver), or throw.
//
// Exceptions. A listener that throws does not stop the others: poll() and
// wait() deliver every event they have taken, then rethrow the first
// exception; later exceptions of the same call are dropped. Events netdl
// still holds stay queued for the next call.
//
// Threads. Any function may be called from any thread. Listeners run on the
// thread that calls poll()/wait(). Cancelling from the polling thread (or
// from a listener) guarantees no further call of that listener; from
// another thread, a call already under way may still finish.
#ifndef NETDL_HPP
#define NETDL_HPP

#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "netdl.h"

namespace netdl {

enum class Phase : net_phase {
    Began = NET_PHASE_BEGAN,
    Progress = NET_PHASE_PROGRESS,
    Ended = NET_PHASE_ENDED,
};

/// Base directories (`NET_DIR_*`).
enum class Dir : net_dir {
    Documents = NET_DIR_DOCUMENTS,
    Temporary = NET_DIR_TEMPORARY,
    Caches = NET_DIR_CACHES,
    ApplicationSupport = NET_DIR_APPLICATION_SUPPORT,
    Resource = NET_DIR_RESOURCE,  // read-only: a source of body files
};

/// What went wrong (`NET_ERROR_*`). netdl may add values: treat unknown
/// ones as failures (error_name() gives "NET_ERROR_UNKNOWN" for them).
enum class Error : net_error {
    None = NET_ERROR_NONE,
    InvalidArgument = NET_ERROR_INVALID_ARGUMENT,
    UnsupportedScheme = NET_ERROR_UNSUPPORTED_SCHEME,
    Dns = NET_ERROR_DNS,
    Connect = NET_ERROR_CONNECT,
    Tls = NET_ERROR_TLS,
    Timeout = NET_ERROR_TIMEOUT,
    Network = NET_ERROR_NETWORK,
    Protocol = NET_ERROR_PROTOCOL,
    TooManyRedirects = NET_ERROR_TOO_MANY_REDIRECTS,
    TooLarge = NET_ERROR_TOO_LARGE,
    Io = NET_ERROR_IO,
    Internal = NET_ERROR_INTERNAL,
    Integrity = NET_ERROR_INTEGRITY,  // size or SHA-256 differs from Params::expected_size / sha256
};

/// How a request body is labelled when no Content-Type header is given.
enum class BodyType : net_body_type {
    Auto = NET_BODY_AUTO,  // text for a body, binary for a body file
    Text = NET_BODY_TEXT,
    Binary = NET_BODY_BINARY,
};

enum class ResponseType : net_response_type {
    Text = NET_RESPONSE_TEXT,
    Binary = NET_RESPONSE_BINARY,
};

/// What Began and Progress events report.
enum class Progress : net_progress {
    Download = NET_PROGRESS_DOWNLOAD,  // the response body received
    Upload = NET_PROGRESS_UPLOAD,      // the request body sent (bytes_estimated: its size)
};

/// "NET_ERROR_TIMEOUT" for Error::Timeout; static.
inline const char *error_name(Error e) { return net_error_name(static_cast<net_error>(e)); }

struct Header {
    std::string name;
    std::string value;
};

namespace detail {
inline bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size())
        return false;
    for (size_t i = 0; i < a.size(); i++) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z')
            x = static_cast<char>(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = static_cast<char>(y - 'A' + 'a');
        if (x != y)
            return false;
    }
    return true;
}
}  // namespace detail

/// One event, copied out of netdl's memory: it owns everything in it.
struct Event {
    net_id id = 0;
    Phase phase = Phase::Ended;
    bool is_error = false;  // a failure (only on Ended); a 404 is not one: see status
    Error error_code = Error::None;
    std::string error;  // a message for humans; "" unless is_error
    int status = 0;     // HTTP status of the final response; 0 when none arrived
    int64_t bytes_transferred = 0;
    int64_t bytes_estimated = -1;  // Content-Length, or -1 when unknown
    std::string url;               // the final URL after redirects
    std::vector<Header> headers;   // response headers, in order, repeated names kept
    std::optional<std::string> path;      // downloads: the target file's full path
    std::optional<std::string> filename;  // downloads: the filename as given
    std::optional<Dir> base_dir;          // downloads: the directory as given
    std::vector<uint8_t> body;  // requests; downloads with a non-2xx status: the error body
    ResponseType response_type = ResponseType::Binary;
    uint32_t attempt = 1;        // 1 for the first attempt, n + 1 for the n-th retry or mirror
    net_event_flags flags = 0;   // NET_EVENT_* bits: see unchanged() and resumed()
    int64_t bytes_received = 0;  // body bytes from the network, over every attempt
    std::optional<std::string> tag;  // Params::tag of the request (kept in the journal)

    const char *error_name() const { return netdl::error_name(error_code); }
    /// Params::if_changed: the server answered 304; the file on disk is
    /// current and was not touched.
    bool unchanged() const { return (flags & NET_EVENT_UNCHANGED) != 0; }
    /// This attempt continued data received earlier (a Range request).
    bool resumed() const { return (flags & NET_EVENT_RESUMED) != 0; }
    /// Started by restore() from the journal of an earlier process.
    bool restored() const { return (flags & NET_EVENT_RESTORED) != 0; }
    /// True for a 2xx response without transport error.
    bool ok() const { return !is_error && status >= 200 && status < 300; }
    std::string body_text() const { return std::string(body.begin(), body.end()); }

    /// The value of the first header called `name` (ASCII case-insensitive).
    /// The view points into this Event.
    std::optional<std::string_view> header(std::string_view name) const {
        for (const auto &h : headers)
            if (detail::iequals(h.name, name))
                return std::string_view(h.value);
        return std::nullopt;
    }

    /// The values of every header called `name`, in the order received.
    /// The views point into this Event.
    std::vector<std::string_view> header_values(std::string_view name) const {
        std::vector<std::string_view> out;
        for (const auto &h : headers)
            if (detail::iequals(h.name, name))
                out.emplace_back(h.value);
        return out;
    }
};

using Listener = std::function<void(const Event &)>;

/// Request options; each default is netdl's.
struct Params {
    std::vector<Header> headers;
    std::string body;                 // sent as is (may hold any bytes)
    std::string body_file;            // stream the body from this file instead ("" = none)
    Dir body_file_dir = Dir::Documents;
    BodyType body_type = BodyType::Auto;
    uint32_t timeout = 0;  // inactivity timeout in seconds; 0 = 30
    bool progress = false;  // deliver Began and Progress events too
    Progress progress_of = Progress::Download;  // Upload turns those events on by itself
    bool follow_redirects = true;
    uint32_t max_redirects = 0;  // 0 = 10
    std::string ca_file;         // PEM file of CAs to trust instead of the system's ("" = system)
    uint64_t max_body = 0;       // largest body accepted; 0 = 64 MiB for requests, no limit for downloads

    // net_options (see netdl.h for each one's rules). The download-only
    // ones (expected_size, sha256, compress, keep_partial, if_changed,
    // segments > 1) make a request() end with Error::InvalidArgument.
    uint32_t max_retries = 0;         // retries of a transient failure (at most 100), with backoff
    uint32_t retry_delay_ms = 0;      // base of the backoff; 0 = 1000
    uint32_t retry_max_delay_ms = 0;  // cap of the backoff; 0 = 30000
    uint64_t expected_size = 0;       // downloads: the file's size; 0 = not checked
    std::string sha256;               // downloads: the file's SHA-256, 64 hex digits ("" = not checked)
    std::vector<std::string> mirrors;  // other URLs of the same file, tried in order
    std::optional<std::string> proxy;  // "http://host:port", ...; "" = none; nullopt = the environment's
    bool compress = false;      // downloads: ask for a compressed response (cannot resume)
    bool keep_partial = false;  // downloads: a cancel keeps the partial data for a later resume
    bool if_changed = false;    // downloads: a 304 ends with Event::unchanged(), file untouched
    // downloads: fetch a large file over up to this many ranged connections
    // at once (at most NET_MAX_SEGMENTS, 16; 0 or 1 = one), when the server
    // allows ranges and each part is at least NET_MIN_SEGMENT (4 MiB)
    uint32_t segments = 0;
    // Higher starts first (negative is lower): queued requests start by
    // priority, then in submission order; see set_priority()
    int32_t priority = 0;
    uint64_t max_speed = 0;  // largest receive rate of this request, bytes/s; 0 = none
    // a string of the application's (at most NET_MAX_TAG bytes), in every
    // event's tag; it survives in the journal (persist), where a listener cannot
    std::optional<std::string> tag;
    // downloads: record it in the journal (in Dir::ApplicationSupport) so that
    // restore() in a later process continues it
    bool persist = false;

    Params &with_header(std::string name, std::string value) {
        headers.push_back({std::move(name), std::move(value)});
        return *this;
    }
    Params &with_body(std::string b, BodyType type = BodyType::Auto) {
        body = std::move(b);
        body_type = type;
        return *this;
    }
    Params &with_body_file(std::string filename, Dir dir = Dir::Documents, BodyType type = BodyType::Auto) {
        body_file = std::move(filename);
        body_file_dir = dir;
        body_type = type;
        return *this;
    }
    Params &with_progress(bool on = true) {
        progress = on;
        return *this;
    }
    /// Began and Progress events report the request body being sent.
    Params &with_upload_progress() {
        progress = true;
        progress_of = Progress::Upload;
        return *this;
    }
    Params &with_timeout(uint32_t seconds) {
        timeout = seconds;
        return *this;
    }
    Params &with_redirects(bool follow, uint32_t max = 0) {
        follow_redirects = follow;
        max_redirects = max;
        return *this;
    }
    Params &with_ca_file(std::string path) {
        ca_file = std::move(path);
        return *this;
    }
    Params &with_max_body(uint64_t bytes) {
        max_body = bytes;
        return *this;
    }
    /// Retries a transient failure up to `max` times, waiting a random time
    /// up to min(max_delay_ms, delay_ms * 2^(n-1)) before retry n (0: netdl's defaults).
    Params &with_retries(uint32_t max, uint32_t delay_ms = 0, uint32_t max_delay_ms = 0) {
        max_retries = max;
        retry_delay_ms = delay_ms;
        retry_max_delay_ms = max_delay_ms;
        return *this;
    }
    Params &with_expected_size(uint64_t bytes) {
        expected_size = bytes;
        return *this;
    }
    Params &with_sha256(std::string hex) {
        sha256 = std::move(hex);
        return *this;
    }
    Params &with_mirror(std::string url) {
        mirrors.push_back(std::move(url));
        return *this;
    }
    Params &with_proxy(std::string url) {
        proxy = std::move(url);
        return *this;
    }
    Params &with_compress(bool on = true) {
        compress = on;
        return *this;
    }
    Params &with_keep_partial(bool on = true) {
        keep_partial = on;
        return *this;
    }
    Params &with_if_changed(bool on = true) {
        if_changed = on;
        return *this;
    }
    /// Up to `n` ranged connections at once (more than 16 is Error::InvalidArgument).
    Params &with_segments(uint32_t n) {
        segments = n;
        return *this;
    }
    Params &with_priority(int32_t p) {
        priority = p;
        return *this;
    }
    Params &with_max_speed(uint64_t bytes_per_second) {
        max_speed = bytes_per_second;
        return *this;
    }
    /// More than NET_MAX_TAG (1024) bytes is Error::InvalidArgument.
    Params &with_tag(std::string t) {
        tag = std::move(t);
        return *this;
    }
    Params &with_persist(bool on = true) {
        persist = on;
        return *this;
    }
};

namespace detail {

/// Events taken from netdl per call.
constexpr size_t kBatch = 64;

/// The wrapper's process-wide state.
struct State {
    State() : queue(net_queue_create()) {}

    // Every request's events go to this queue (NULL only when created after
    // net_shutdown, when no request starts anyway).
    net_queue *const queue;
    std::mutex listeners_lock;
    std::unordered_map<net_id, std::shared_ptr<const Listener>> listeners;
    // The listener of the restore() under way (under listeners_lock), and
    // what keeps two restore() calls apart.
    std::shared_ptr<const Listener> restoring;
    std::mutex restore_lock;
    // Held while netdl's event memory is read, from net_queue_poll/wait
    // until the batch is copied: the queue's next poll frees it.
    std::mutex take_lock;
    std::mutex pending_lock;
    std::deque<Event> pending;  // copied, not yet delivered; oldest first
};

/// Never destroyed, so a Request in static storage can still cancel at exit;
/// the queue lives as long as the process (as netdl's network thread does).
inline State &state() {
    static State *s = new State;
    return *s;
}

/// What a net_params points to besides the Params' own strings.
struct CStorage {
    std::vector<net_header> headers;
    std::vector<const char *> mirrors;
    net_options options = net_options_init();
};

/// Whether `p` sets any net_options field.
inline bool has_options(const Params &p) {
    return p.max_retries || p.retry_delay_ms || p.retry_max_delay_ms || p.expected_size ||
           !p.sha256.empty() || !p.mirrors.empty() || p.proxy || p.compress || p.keep_partial ||
           p.if_changed || p.segments || p.priority || p.max_speed || p.tag || p.persist;
}

/// The one place a net_params (and the net_options it points to, left NULL
/// when every option is default) is filled. It points into `p` and `st`,
/// which must outlive the C call.
inline net_params to_c(const Params &p, CStorage &st) {
    net_params c{};
    auto &hdrs = st.headers;
    for (const auto &h : p.headers)
        hdrs.push_back({h.name.c_str(), h.value.c_str()});
    c.headers = hdrs.empty() ? nullptr : hdrs.data();
    c.header_count = hdrs.size();
    c.body = p.body.empty() ? nullptr : p.body.data();
    c.body_len = p.body.size();
    c.body_file = p.body_file.empty() ? nullptr : p.body_file.c_str();
    c.body_file_dir = static_cast<net_dir>(p.body_file_dir);
    c.body_type = static_cast<net_body_type>(p.body_type);
    c.timeout = p.timeout;
    c.progress = p.progress;
    c.progress_of = static_cast<net_progress>(p.progress_of);
    c.no_redirects = !p.follow_redirects;
    c.max_redirects = p.max_redirects;
    c.ca_file = p.ca_file.empty() ? nullptr : p.ca_file.c_str();
    c.max_body = p.max_body;
    c.queue = state().queue;
    if (has_options(p)) {
        net_options &o = st.options;
        o.max_retries = p.max_retries;
        o.retry_delay_ms = p.retry_delay_ms;
        o.retry_max_delay_ms = p.retry_max_delay_ms;
        o.expected_size = p.expected_size;
        o.sha256 = p.sha256.empty() ? nullptr : p.sha256.c_str();
        for (const auto &m : p.mirrors)
            st.mirrors.push_back(m.c_str());
        o.mirrors = st.mirrors.empty() ? nullptr : st.mirrors.data();
        o.mirror_count = st.mirrors.size();
        o.proxy = p.proxy ? p.proxy->c_str() : nullptr;
        o.compress = p.compress;
        o.keep_partial = p.keep_partial;
        o.if_changed = p.if_changed;
        o.segments = p.segments;
        o.priority = p.priority;
        o.max_speed = p.max_speed;
        o.tag = p.tag ? p.tag->c_str() : nullptr;
        o.persist = p.persist;
        c.options = &o;
    }
    return c;
}

inline Event copy(const net_event &e) {
    Event out;
    out.id = e.id;
    out.phase = static_cast<Phase>(e.phase);
    out.is_error = e.is_error;
    out.error_code = static_cast<Error>(e.error_code);
    out.error = e.error ? e.error : "";
    out.status = e.status;
    out.bytes_transferred = e.bytes_transferred;
    out.bytes_estimated = e.bytes_estimated;
    out.url = e.url ? e.url : "";
    out.headers.reserve(e.header_count);
    for (size_t i = 0; i < e.header_count; i++)
        out.headers.push_back({e.headers[i].name, e.headers[i].value});
    if (e.path)
        out.path = e.path;
    if (e.filename) {
        out.filename = e.filename;
        out.base_dir = static_cast<Dir>(e.base_dir);
    }
    if (e.body) {
        const auto *b = static_cast<const uint8_t *>(e.body);
        out.body.assign(b, b + e.body_len);
    }
    out.response_type = static_cast<ResponseType>(e.response_type);
    out.attempt = e.attempt;
    out.flags = e.flags;
    out.bytes_received = e.bytes_received;
    if (e.tag)
        out.tag = e.tag;
    return out;
}

/// Gives the listener of the restore() under way to the downloads it
/// restored, from their first event: a Began (or the Ended of one that
/// could not start) with the restored flag, of an id unknown here. netdl
/// queues those before net_queue_restore returns, and restore() takes them
/// before it returns. No later event of a cancelled id looks like one: its
/// Began came before the app knew the id, and no Ended follows a cancel.
inline void adopt_restored(const std::vector<Event> &copies) {
    State &s = state();
    std::lock_guard<std::mutex> g(s.listeners_lock);
    if (!s.restoring)
        return;
    for (const auto &e : copies)
        if (e.restored() && e.phase != Phase::Progress && s.listeners.count(e.id) == 0)
            s.listeners[e.id] = s.restoring;
}

/// The one place events are taken from netdl: takes up to kBatch events
/// (waiting up to `timeout_ms` for the first when `block`) and appends
/// copies of all of them to `pending`. Returns how many were taken. When
/// another thread is taking, a non-blocking call takes nothing.
inline size_t take(bool block, uint32_t timeout_ms) {
    State &s = state();
    std::unique_lock<std::mutex> taking(s.take_lock, std::defer_lock);
    if (block)
        taking.lock();
    else if (!taking.try_lock())
        return 0;
    net_event batch[kBatch];
    size_t n = block ? net_queue_wait(s.queue, batch, kBatch, timeout_ms)
                     : net_queue_poll(s.queue, batch, kBatch);
    std::vector<Event> copies;
    copies.reserve(n);
    for (size_t i = 0; i < n; i++)
        copies.push_back(copy(batch[i]));
    adopt_restored(copies);
    std::lock_guard<std::mutex> g(s.pending_lock);  // still under take_lock: keeps the order
    for (auto &e : copies)
        s.pending.push_back(std::move(e));
    return n;
}

/// The listener of `ev`, or null when its request is unknown or cancelled;
/// forgets the request when `ev` is its last event.
inline std::shared_ptr<const Listener> listener_for(const Event &ev) {
    State &s = state();
    std::lock_guard<std::mutex> g(s.listeners_lock);
    auto it = s.listeners.find(ev.id);
    if (it == s.listeners.end())
        return nullptr;
    auto listener = it->second;
    if (ev.phase == Phase::Ended)
        s.listeners.erase(it);
    return listener;
}

/// Delivers pending events, oldest first, until none is left (no lock is
/// held while a listener runs). Returns how many listeners it called; the
/// first exception one threw is kept in `first`.
inline size_t deliver(std::exception_ptr &first) {
    State &s = state();
    size_t called = 0;
    for (;;) {
        Event ev;
        {
            std::lock_guard<std::mutex> g(s.pending_lock);
            if (s.pending.empty())
                return called;
            ev = std::move(s.pending.front());
            s.pending.pop_front();
        }
        auto listener = listener_for(ev);
        if (!listener)
            continue;
        called++;
        try {
            (*listener)(ev);
        } catch (...) {
            if (!first)
                first = std::current_exception();
        }
    }
}

inline bool nothing_pending() {
    std::lock_guard<std::mutex> g(state().pending_lock);
    return state().pending.empty();
}

/// poll() and wait(): take, deliver, and again while netdl had more.
inline size_t pump(bool block, uint32_t timeout_ms) {
    std::exception_ptr first;
    size_t called = 0;
    block = block && nothing_pending();
    for (;;) {
        size_t taken = take(block, timeout_ms);
        block = false;
        called += deliver(first);
        if (taken < kBatch || first)
            break;
    }
    if (first)
        std::rethrow_exception(first);
    return called;
}

/// Starts a request through `call(const net_params *)` and registers
/// `listener` for its id.
template <class Call> net_id start(const Params &params, Listener listener, Call call) {
    CStorage storage;
    net_params c = to_c(params, storage);
    // Registered before the request's first event can be delivered: another
    // thread polling looks the listener up under this lock.
    std::lock_guard<std::mutex> g(state().listeners_lock);
    net_id id = call(&c);
    if (id != 0 && listener)
        state().listeners[id] = std::make_shared<const Listener>(std::move(listener));
    return id;
}

inline void forget(net_id id) {
    std::lock_guard<std::mutex> g(state().listeners_lock);
    state().listeners.erase(id);
}

}  // namespace detail

/// Owns a request: cancels it on destruction unless released or ended.
class Request {
public:
    Request() = default;
    explicit Request(net_id id) : id_(id) {}
    Request(const Request &) = delete;
    Request &operator=(const Request &) = delete;
    Request(Request &&other) noexcept : id_(std::exchange(other.id_, 0)) {}
    Request &operator=(Request &&other) noexcept {
        if (this != &other) {
            cancel();
            id_ = std::exchange(other.id_, 0);
        }
        return *this;
    }
    ~Request() { cancel(); }

    net_id id() const { return id_; }
    explicit operator bool() const { return id_ != 0; }

    /// Cancels the request; true if it was still live in netdl. Its
    /// listener is never called again (see "Threads" above).
    bool cancel() {
        net_id id = std::exchange(id_, 0);
        if (id == 0)
            return false;
        bool live = net_cancel(id);
        detail::forget(id);
        return live;
    }

    /// Lets the request run on without this handle; returns its id.
    net_id release() { return std::exchange(id_, 0); }

private:
    net_id id_ = 0;
};

/// Downloads `url` into `filename` inside `dir`; `listener` gets its
/// events. Dropping the returned Request cancels the download at once.
[[nodiscard]] inline Request download(const std::string &url, const std::string &filename,
                                      Listener listener, const Params &params = Params(),
                                      Dir dir = Dir::Documents, const std::string &method = "GET") {
    return Request(detail::start(params, std::move(listener), [&](const net_params *c) {
        return net_download(url.c_str(), method.c_str(), c, filename.c_str(), static_cast<net_dir>(dir));
    }));
}

/// A request whose response body arrives in memory (`Event::body`).
/// Dropping the returned Request cancels it at once.
[[nodiscard]] inline Request request(const std::string &url, Listener listener,
                                     const Params &params = Params(), const std::string &method = "GET") {
    return Request(detail::start(params, std::move(listener), [&](const net_params *c) {
        return net_request(url.c_str(), method.c_str(), c);
    }));
}

/// Delivers pending events to their listeners; never blocks. Call once per
/// frame. Returns how many listener calls it made. Rethrows the first
/// exception a listener threw, after every event it took was delivered.
inline size_t poll() { return detail::pump(false, 0); }

/// Like poll(), but when nothing is pending waits up to `timeout_ms` for
/// the first event.
inline size_t wait(uint32_t timeout_ms) { return detail::pump(true, timeout_ms); }

/// Sets where `dir` lives for requests started from now on; `path` must be
/// absolute.
inline bool set_directory(Dir dir, const std::string &path) {
    return net_set_directory(static_cast<net_dir>(dir), path.c_str());
}

/// The path `dir` resolves to now.
inline std::string directory(Dir dir) {
    std::string out(net_get_directory(static_cast<net_dir>(dir), nullptr, 0), '\0');
    if (!out.empty())
        net_get_directory(static_cast<net_dir>(dir), &out[0], out.size() + 1);
    return out;
}

/// The application name default directories are made of (one path component).
inline bool set_app_name(const std::string &name) { return net_set_app_name(name.c_str()); }

/// How many requests run at once, and connections per host (both >= 1).
inline bool set_limits(uint32_t max_transfers, uint32_t max_per_host) {
    return net_set_limits(max_transfers, max_per_host);
}

/// Pauses every transfer at once, for an application going to the
/// background: no byte moves, partial data is kept, queued requests do not
/// start; no listener is called while suspended except for requests
/// failing for local reasons. New requests wait. Idempotent; never blocks.
inline void suspend() { net_suspend(); }

/// Ends suspend(): downloads continue where their data ends, interrupted
/// in-memory requests start again. Idempotent; never blocks.
inline void resume() { net_resume(); }

/// Starts again every download of the journal (Params::persist) an earlier
/// process left unfinished, into this wrapper's queue (net_queue_restore),
/// and returns how many. `listener` gets their events, from poll() and
/// wait() like any other. Call it after set_app_name() /
/// set_directory(Dir::ApplicationSupport, ...).
///
/// Each restored download has a new id: its first event is a Began (even
/// without progress; bytes_transferred is the data it continues) and every
/// event has restored() and its tag, which tells the application what it
/// is. They run detached: `netdl::Request(e.id)` adopts one (to cancel it).
/// One that cannot start has only an Ended event with is_error.
///
///     netdl::restore([](const netdl::Event &e) {
///         if (e.phase == netdl::Phase::Ended && e.ok()) pack_ready(*e.tag, *e.path);
///     });
///
/// It takes the events netdl has queued by then (so it waits for a thread
/// taking events in wait() to finish; the restored downloads' first events
/// wake it); they are delivered by the next poll() or wait(). An empty
/// listener lets the restored downloads run unseen.
inline size_t restore(Listener listener) {
    detail::State &s = detail::state();
    if (!s.queue)
        return 0;  // created after net_shutdown; NULL would mean netdl's default queue
    std::lock_guard<std::mutex> one(s.restore_lock);
    {
        std::lock_guard<std::mutex> g(s.listeners_lock);
        if (listener)
            s.restoring = std::make_shared<const Listener>(std::move(listener));
    }
    size_t n = net_queue_restore(s.queue);
    if (n > 0)
        while (detail::take(true, 0) == detail::kBatch) {
        }
    std::lock_guard<std::mutex> g(s.listeners_lock);
    s.restoring = nullptr;
    return n;
}

/// Changes a request's priority: a queued one moves to its new place, a
/// running one changes its share of a bandwidth cap. True when it is
/// queued or running.
inline bool set_priority(net_id id, int32_t priority) { return net_set_priority(id, priority); }

/// Caps the receive rate of all transfers together, bytes per second (0: no
/// cap); running transfers share it by priority.
inline void set_max_speed(uint64_t bytes_per_second) { net_set_max_speed(bytes_per_second); }

inline std::string version() { return net_version(); }

/// Stops everything; final for the process. No listener is called after it.
inline void shutdown() {
    net_shutdown();
    detail::State &s = detail::state();
    {
        std::lock_guard<std::mutex> g(s.listeners_lock);
        s.listeners.clear();
    }
    std::lock_guard<std::mutex> g(s.pending_lock);
    s.pending.clear();
}

}  // namespace netdl

#endif  // NETDL_HPP
