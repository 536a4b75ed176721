// netdl.hpp: a header-only C++17 wrapper over netdl.h.
//
//   auto req = netdl::download(url, "pack.bin", [](const netdl::Event &e) {
//       if (e.phase == netdl::Phase::Ended) use(e);
//   }, netdl::Params().with_progress());
//   ...
//   netdl::poll();   // once per frame: calls the listeners, on this thread
//
// `Request` owns a running request: destroying it (or calling cancel())
// cancels the request, after which its listener is never called again.
// Call release() to let it run detached. Events are copied out of netdl's
// memory (`Event` owns its strings), so they may be kept.
#ifndef NETDL_HPP
#define NETDL_HPP

#include <cctype>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "netdl.h"

namespace netdl {

enum class Phase : uint32_t {
    Began = NET_PHASE_BEGAN,
    Progress = NET_PHASE_PROGRESS,
    Ended = NET_PHASE_ENDED,
};

struct Header {
    std::string name;
    std::string value;
};

/// One event, copied out of netdl's memory.
struct Event {
    net_id id = 0;
    Phase phase = Phase::Ended;
    bool is_error = false;
    net_error error_code = NET_ERROR_NONE;
    std::string error;
    int status = 0;
    int64_t bytes_transferred = 0;
    int64_t bytes_estimated = -1;
    std::string url;
    std::vector<Header> headers;
    std::string path;      // downloads: the target file
    std::string filename;  // downloads: as given
    net_dir base_dir = NET_DIR_DOCUMENTS;
    std::vector<uint8_t> body;  // requests (and non-2xx downloads)
    net_response_type response_type = NET_RESPONSE_BINARY;

    const char *error_name() const { return net_error_name(error_code); }
    /// True for a 2xx response without transport error.
    bool ok() const { return !is_error && status >= 200 && status < 300; }
    std::string body_text() const { return std::string(body.begin(), body.end()); }
    /// The first header with this name (ASCII case-insensitive), or "".
    std::string header(const std::string &name) const {
        for (const auto &h : headers) {
            if (h.name.size() != name.size())
                continue;
            bool same = true;
            for (size_t i = 0; i < name.size() && same; i++)
                same = std::tolower(static_cast<unsigned char>(h.name[i])) ==
                       std::tolower(static_cast<unsigned char>(name[i]));
            if (same)
                return h.value;
        }
        return std::string();
    }
};

using Listener = std::function<void(const Event &)>;

/// Request options; zero values mean netdl's defaults.
struct Params {
    std::vector<Header> headers;
    std::string body;
    net_body_type body_type = NET_BODY_AUTO;
    uint32_t timeout = 0;  // inactivity timeout in seconds; 0 = 30
    bool progress = false;
    bool no_redirects = false;
    uint32_t max_redirects = 0;
    std::string ca_file;
    uint64_t max_body = 0;

    Params &with_header(std::string name, std::string value) {
        headers.push_back({std::move(name), std::move(value)});
        return *this;
    }
    Params &with_body(std::string b, net_body_type type = NET_BODY_AUTO) {
        body = std::move(b);
        body_type = type;
        return *this;
    }
    Params &with_progress(bool on = true) {
        progress = on;
        return *this;
    }
    Params &with_timeout(uint32_t seconds) {
        timeout = seconds;
        return *this;
    }
};

namespace detail {

/// Listeners of live requests, by id.
struct Registry {
    std::mutex lock;
    std::unordered_map<net_id, Listener> listeners;
};

inline Registry &registry() {
    static Registry r;
    return r;
}

/// Fills a net_params pointing into `p` and `hdrs` (which must outlive the call).
inline net_params to_c(const Params &p, std::vector<net_header> &hdrs) {
    net_params c{};
    for (const auto &h : p.headers)
        hdrs.push_back({h.name.c_str(), h.value.c_str()});
    c.headers = hdrs.empty() ? nullptr : hdrs.data();
    c.header_count = hdrs.size();
    c.body = p.body.empty() ? nullptr : p.body.data();
    c.body_len = p.body.size();
    c.body_type = p.body_type;
    c.timeout = p.timeout;
    c.progress = p.progress;
    c.no_redirects = p.no_redirects;
    c.max_redirects = p.max_redirects;
    c.ca_file = p.ca_file.empty() ? nullptr : p.ca_file.c_str();
    c.max_body = p.max_body;
    return c;
}

inline Event copy(const net_event &e) {
    Event out;
    out.id = e.id;
    out.phase = static_cast<Phase>(e.phase);
    out.is_error = e.is_error;
    out.error_code = e.error_code;
    out.error = e.error ? e.error : "";
    out.status = e.status;
    out.bytes_transferred = e.bytes_transferred;
    out.bytes_estimated = e.bytes_estimated;
    out.url = e.url ? e.url : "";
    for (size_t i = 0; i < e.header_count; i++)
        out.headers.push_back({e.headers[i].name, e.headers[i].value});
    out.path = e.path ? e.path : "";
    out.filename = e.filename ? e.filename : "";
    out.base_dir = e.base_dir;
    if (e.body) {
        const auto *b = static_cast<const uint8_t *>(e.body);
        out.body.assign(b, b + e.body_len);
    }
    out.response_type = e.response_type;
    return out;
}

inline void forget(net_id id) {
    std::lock_guard<std::mutex> g(registry().lock);
    registry().listeners.erase(id);
}

/// Calls the listener of each event (outside the lock, so a listener may
/// start or cancel requests).
inline size_t dispatch(const net_event *events, size_t n) {
    for (size_t i = 0; i < n; i++) {
        Event ev = copy(events[i]);
        Listener listener;
        {
            std::lock_guard<std::mutex> g(registry().lock);
            auto it = registry().listeners.find(ev.id);
            if (it == registry().listeners.end())
                continue;
            listener = it->second;
            if (ev.phase == Phase::Ended)
                registry().listeners.erase(it);
        }
        if (listener)
            listener(ev);
    }
    return n;
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

    /// Cancels the request; true if it was still live. Its listener is
    /// never called again.
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

/// Downloads `url` into `filename` inside `dir`; `listener` gets its events.
inline Request download(const std::string &url, const std::string &filename, Listener listener,
                        const Params &params = Params(), net_dir dir = NET_DIR_DOCUMENTS,
                        const std::string &method = "GET") {
    std::vector<net_header> hdrs;
    net_params c = detail::to_c(params, hdrs);
    // Registered before the event can be polled: poll runs on the caller's thread.
    std::lock_guard<std::mutex> g(detail::registry().lock);
    net_id id = net_download(url.c_str(), method.c_str(), &c, filename.c_str(), dir);
    if (id != 0)
        detail::registry().listeners[id] = std::move(listener);
    return Request(id);
}

/// A request whose response body arrives in memory (`Event::body`).
inline Request request(const std::string &url, Listener listener, const Params &params = Params(),
                       const std::string &method = "GET") {
    std::vector<net_header> hdrs;
    net_params c = detail::to_c(params, hdrs);
    std::lock_guard<std::mutex> g(detail::registry().lock);
    net_id id = net_request(url.c_str(), method.c_str(), &c);
    if (id != 0)
        detail::registry().listeners[id] = std::move(listener);
    return Request(id);
}

/// Delivers pending events to their listeners; never blocks. Call once per
/// frame. Returns the number of events handled.
inline size_t poll() {
    net_event events[64];
    size_t total = 0, n;
    while ((n = net_poll(events, 64)) > 0)
        total += detail::dispatch(events, n);
    return total;
}

/// Like poll(), but waits up to `timeout_ms` for the first event.
inline size_t wait(uint32_t timeout_ms) {
    net_event events[64];
    size_t n = net_wait(events, 64, timeout_ms);
    return detail::dispatch(events, n) + (n ? poll() : 0);
}

inline bool set_directory(net_dir dir, const std::string &path) {
    return net_set_directory(dir, path.c_str());
}

inline std::string directory(net_dir dir) {
    std::string out(net_get_directory(dir, nullptr, 0), '\0');
    if (!out.empty())
        net_get_directory(dir, &out[0], out.size() + 1);
    return out;
}

inline std::string version() { return net_version(); }

/// Stops everything; final for the process.
inline void shutdown() {
    net_shutdown();
    std::lock_guard<std::mutex> g(detail::registry().lock);
    detail::registry().listeners.clear();
}

}  // namespace netdl

#endif  // NETDL_HPP
