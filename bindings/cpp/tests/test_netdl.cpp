// Tests of bindings/cpp/netdl.hpp against scripts/loopback_server.py.
//   test_netdl BASE_URL DIRECTORY SERVED PACED_URL
// (SERVED: the folder the server serves under /files/; PACED_URL: a second
// server of that folder, paced to 4 MiB/s)
// run_tests.sh runs it twice: built normally, and under AddressSanitizer
// and UBSan (the re-entrant and throwing listeners below read only memory
// the wrapper owns).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "netdl.hpp"

static int failures = 0;
#define CHECK(cond)                                                       \
    do {                                                                  \
        if (!(cond)) {                                                    \
            std::printf("FAIL line %d: %s\n", __LINE__, #cond);           \
            failures++;                                                   \
        }                                                                 \
    } while (0)

static std::vector<uint8_t> pattern(size_t n) {
    std::vector<uint8_t> v(n);
    for (size_t i = 0; i < n; i++)
        v[i] = static_cast<uint8_t>(i % 251);
    return v;
}

static std::vector<uint8_t> read_file(const std::string &path) {
    std::ifstream f(path, std::ios::binary);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

/// Pumps until `done` or 10 s.
template <class F> static void pump_until(F done) {
    for (int i = 0; i < 200 && !done(); i++)
        netdl::wait(50);
}

/// Waits (without polling netdl) until every file exists, or 10 s: their
/// downloads are complete, so their events wait in netdl's queue and the
/// next poll takes them as one batch.
static bool wait_for_files(const std::vector<std::string> &paths) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (const auto &p : paths)
        while (!std::filesystem::exists(p)) {
            if (std::chrono::steady_clock::now() > deadline)
                return false;
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
    return true;
}

struct Expected {
    std::string url, filename;
    size_t size = 0;
    std::vector<netdl::Phase> phases;
    int64_t last_bytes = 0;
    bool same = true;  // every event carried this request's url, names and growing byte counts
    int status = 0;
};

/// Checks one event of a download against what was asked.
static void record(Expected &x, const std::string &dir, const netdl::Event &e) {
    if (e.url != x.url || e.filename != x.filename || e.path != dir + "/" + x.filename ||
        e.base_dir != netdl::Dir::Documents || e.bytes_transferred < x.last_bytes)
        x.same = false;
    x.last_bytes = e.bytes_transferred;
    x.phases.push_back(e.phase);
    if (e.phase == netdl::Phase::Ended)
        x.status = e.status;
}

/// began, progress..., ended: exactly one ended, last.
static bool well_ordered(const std::vector<netdl::Phase> &phases) {
    if (phases.size() < 2 || phases.front() != netdl::Phase::Began || phases.back() != netdl::Phase::Ended)
        return false;
    for (size_t i = 1; i + 1 < phases.size(); i++)
        if (phases[i] != netdl::Phase::Progress)
            return false;
    return true;
}

/// A listener that calls poll() and wait() while a batch of many events is
/// being delivered: every event still arrives once, in order, intact.
static void test_reentrant_listener(const std::string &base, const std::string &dir) {
    const int n = 60;
    std::vector<Expected> ex(n);
    std::vector<std::string> paths;
    std::vector<netdl::Request> reqs;
    int depth = 0, reentries = 0, nested_calls = 0;
    for (int i = 0; i < n; i++) {
        ex[i].size = 1000 + 37 * static_cast<size_t>(i);
        ex[i].url = base + "/bytes/" + std::to_string(ex[i].size);
        ex[i].filename = "cpp/re/" + std::to_string(i) + ".bin";
        paths.push_back(dir + "/" + ex[i].filename);
        reqs.push_back(netdl::download(ex[i].url, ex[i].filename, [&, i](const netdl::Event &e) {
            record(ex[i], dir, e);
            if (depth > 0)
                nested_calls++;
            // Re-enters from the first call at depth 0, then from the first at
            // depth 1. The wait lets netdl reclaim the memory of the batch it
            // handed out before (it frees it when idle for 250 ms): a wrapper
            // still reading that batch would read freed memory.
            if (reentries < 2 && depth == reentries) {
                reentries++;
                depth++;
                netdl::poll();
                netdl::wait(depth == 1 ? 400 : 0);
                depth--;
            }
        }, netdl::Params().with_progress()));
    }
    CHECK(wait_for_files(paths));
    size_t outer = netdl::poll();
    CHECK(reentries == 2);
    CHECK(nested_calls > 0);  // the nested calls delivered events of the outer batch
    CHECK(outer >= 1);
    pump_until([&] {
        for (const auto &x : ex)
            if (x.phases.empty() || x.phases.back() != netdl::Phase::Ended)
                return false;
        return true;
    });
    for (int i = 0; i < n; i++) {
        CHECK(well_ordered(ex[i].phases));
        CHECK(ex[i].same);
        CHECK(ex[i].status == 200 && ex[i].last_bytes == static_cast<int64_t>(ex[i].size));
        CHECK(read_file(paths[i]) == pattern(ex[i].size));
    }
}

/// A listener that throws: the rest of the batch is delivered, then poll()
/// rethrows the first exception; no event is lost.
static void test_throwing_listener(const std::string &base, const std::string &dir) {
    const int n = 20;
    std::vector<Expected> ex(n);
    std::vector<std::string> paths;
    std::vector<netdl::Request> reqs;
    int calls = 0;
    for (int i = 0; i < n; i++) {
        ex[i].size = 500 + static_cast<size_t>(i);
        ex[i].url = base + "/bytes/" + std::to_string(ex[i].size);
        ex[i].filename = "cpp/throw/" + std::to_string(i) + ".bin";
        paths.push_back(dir + "/" + ex[i].filename);
        reqs.push_back(netdl::download(ex[i].url, ex[i].filename, [&, i](const netdl::Event &e) {
            record(ex[i], dir, e);
            int call = calls++;
            if (call == 0)
                throw std::runtime_error("first");
            if (call == 2)
                throw std::logic_error("second");
        }));
    }
    CHECK(wait_for_files(paths));
    std::string caught;
    int calls_when_caught = -1;
    try {
        netdl::poll();
    } catch (const std::runtime_error &e) {
        caught = e.what();
        calls_when_caught = calls;
    } catch (const std::exception &e) {
        caught = e.what();
    }
    CHECK(caught == "first");
    CHECK(calls_when_caught > 3);  // listeners after both throwers ran before the exception arrived
    pump_until([&] { return calls == n; });
    CHECK(calls == n);
    for (int i = 0; i < n; i++) {
        CHECK(ex[i].phases.size() == 1 && ex[i].phases[0] == netdl::Phase::Ended);
        CHECK(ex[i].same && ex[i].status == 200);
    }
    CHECK(netdl::poll() == 0);  // nothing delivered twice
}

/// A listener that cancels another request whose event is in the same batch:
/// that event is not delivered.
static void test_cancel_within_batch(const std::string &base, const std::string &dir) {
    netdl::Request reqs[2];
    int calls[2] = {0, 0};
    for (int i = 0; i < 2; i++) {
        reqs[i] = netdl::download(base + "/bytes/100", "cpp/cancel/" + std::to_string(i) + ".bin",
                                  [&, i](const netdl::Event &) {
                                      calls[i]++;
                                      reqs[1 - i].cancel();
                                  });
    }
    CHECK(wait_for_files({dir + "/cpp/cancel/0.bin", dir + "/cpp/cancel/1.bin"}));
    netdl::poll();
    netdl::wait(100);
    CHECK(calls[0] + calls[1] == 1);
}

static void test_enums_and_headers(const std::string &base) {
    // Every netdl::Error has the C value and name; the library knows no more.
    const std::pair<netdl::Error, const char *> errors[] = {
        {netdl::Error::None, "NET_ERROR_NONE"},
        {netdl::Error::InvalidArgument, "NET_ERROR_INVALID_ARGUMENT"},
        {netdl::Error::UnsupportedScheme, "NET_ERROR_UNSUPPORTED_SCHEME"},
        {netdl::Error::Dns, "NET_ERROR_DNS"},
        {netdl::Error::Connect, "NET_ERROR_CONNECT"},
        {netdl::Error::Tls, "NET_ERROR_TLS"},
        {netdl::Error::Timeout, "NET_ERROR_TIMEOUT"},
        {netdl::Error::Network, "NET_ERROR_NETWORK"},
        {netdl::Error::Protocol, "NET_ERROR_PROTOCOL"},
        {netdl::Error::TooManyRedirects, "NET_ERROR_TOO_MANY_REDIRECTS"},
        {netdl::Error::TooLarge, "NET_ERROR_TOO_LARGE"},
        {netdl::Error::Io, "NET_ERROR_IO"},
        {netdl::Error::Internal, "NET_ERROR_INTERNAL"},
        {netdl::Error::Integrity, "NET_ERROR_INTEGRITY"},
    };
    net_error next = 0;
    for (const auto &[code, name] : errors) {
        CHECK(static_cast<net_error>(code) == next++);
        CHECK(std::string(netdl::error_name(code)) == name);
    }
    CHECK(std::string(net_error_name(next)) == "NET_ERROR_UNKNOWN");
    CHECK(static_cast<net_dir>(netdl::Dir::Documents) == NET_DIR_DOCUMENTS &&
          static_cast<net_dir>(netdl::Dir::Temporary) == NET_DIR_TEMPORARY &&
          static_cast<net_dir>(netdl::Dir::Caches) == NET_DIR_CACHES &&
          static_cast<net_dir>(netdl::Dir::ApplicationSupport) == NET_DIR_APPLICATION_SUPPORT &&
          static_cast<net_dir>(netdl::Dir::Resource) == NET_DIR_RESOURCE);

    // Header lookup: case-insensitive, first value, repeated names kept.
    netdl::Event e;
    e.headers = {{"Set-Cookie", "a=1"}, {"content-type", "text/plain"}, {"SET-COOKIE", "b=2"}};
    CHECK(e.header("Content-Type") == std::optional<std::string_view>("text/plain"));
    CHECK(e.header("set-cookie") == std::optional<std::string_view>("a=1"));
    CHECK(!e.header("X-Missing"));
    CHECK((e.header_values("Set-Cookie") == std::vector<std::string_view>{"a=1", "b=2"}));
    CHECK(e.header_values("X-Missing").empty());

    // On a real response; a request has no path, filename or directory.
    netdl::Event got;
    bool done = false;
    auto r = netdl::request(base + "/echo", [&](const netdl::Event &ev) { got = ev, done = true; });
    pump_until([&] { return done; });
    CHECK(got.ok() && got.header("CONTENT-TYPE") == std::optional<std::string_view>("application/json"));
    CHECK(!got.path && !got.filename && !got.base_dir);
}

/// Each Params field reaches netdl.
static void test_params(const std::string &base, const std::string &dir) {
    auto run = [](auto start) {
        netdl::Event ev;
        bool done = false;
        auto req = start([&](const netdl::Event &e) { ev = e, done = true; });
        pump_until([&] { return done; });
        return ev;
    };
    auto req = [&](const std::string &path, const netdl::Params &p, const std::string &method = "GET") {
        return run([&](netdl::Listener l) { return netdl::request(base + path, l, p, method); });
    };
    using netdl::Params;

    auto e = req("/redirect/1", Params().with_redirects(false));
    CHECK(!e.is_error && e.status == 302);
    e = req("/redirect/3", Params().with_redirects(true, 2));
    CHECK(e.is_error && e.error_code == netdl::Error::TooManyRedirects);
    e = req("/redirect/3", Params().with_redirects(true, 3));
    CHECK(e.ok() && e.body_text() == "done");

    e = req("/bytes/1000", Params().with_max_body(999));
    CHECK(e.is_error && e.error_code == netdl::Error::TooLarge);
    e = req("/bytes/1000", Params().with_max_body(1000));
    CHECK(e.ok() && e.body == pattern(1000));

    e = req("/echo", Params().with_ca_file("/nonexistent/ca.pem"));
    CHECK(e.ok());  // plain http: the CA file is not read

    // A body file from a base directory, labelled binary.
    CHECK(netdl::set_directory(netdl::Dir::Temporary, dir + "/tmp"));
    std::filesystem::create_directories(dir + "/tmp");
    std::ofstream(dir + "/tmp/upload.txt", std::ios::binary) << "from a file";
    e = req("/echo", Params().with_body_file("upload.txt", netdl::Dir::Temporary, netdl::BodyType::Binary), "POST");
    CHECK(e.ok() && e.body_text().find("\"body\": \"from a file\"") != std::string::npos);
    CHECK(e.body_text().find("\"Content-Type\": \"application/octet-stream\"") != std::string::npos);
    e = req("/echo", Params().with_body("a=1", netdl::BodyType::Text), "POST");
    CHECK(e.body_text().find("\"Content-Type\": \"application/x-www-form-urlencoded\"") != std::string::npos);

    // A download into a chosen directory reports it.
    e = run([&](netdl::Listener l) {
        return netdl::download(base + "/bytes/10", "d.bin", l, Params(), netdl::Dir::Temporary);
    });
    CHECK(e.ok() && e.base_dir == netdl::Dir::Temporary && e.path == dir + "/tmp/d.bin");

    CHECK(!netdl::set_limits(0, 1));
    CHECK(netdl::set_limits(64, 64));
    CHECK(!netdl::set_app_name("a/b"));
    CHECK(netdl::set_app_name("netdl-cpp-test"));
    std::string caches = netdl::directory(netdl::Dir::Caches);
    CHECK(caches.size() > 15 && caches.substr(caches.size() - 15) == "/netdl-cpp-test");
}

/// The wrapper polls its own queue: the events of a download C code starts
/// on netdl's default queue stay there for net_poll.
static void test_own_queue(const std::string &base, const std::string &dir) {
    net_params p{};
    net_id c_id = net_download((base + "/bytes/7").c_str(), "GET", &p, "cpp/c.bin", NET_DIR_DOCUMENTS);
    CHECK(wait_for_files({dir + "/cpp/c.bin"}));
    // The C download's event is queued before this request ends: sharing the
    // queue, the wrapper would take it (and drop it: no listener).
    bool done = false;
    auto r = netdl::request(base + "/bytes/8", [&](const netdl::Event &e) { done = e.ok() && e.body.size() == 8; });
    pump_until([&] { return done; });
    CHECK(done);
    net_event ev[4];
    size_t n = net_wait(ev, 4, 5000);
    CHECK(n == 1 && ev[0].id == c_id && ev[0].phase == NET_PHASE_ENDED && ev[0].status == 200);
}

/// Upload progress: Began and Progress count the request body sent.
static void test_upload_progress(const std::string &base) {
    const std::string body(1 << 20, 'u');
    std::vector<netdl::Event> events;
    auto r = netdl::request(base + "/echo", [&](const netdl::Event &e) { events.push_back(e); },
                            netdl::Params().with_body(body).with_upload_progress(), "POST");
    pump_until([&] { return !events.empty() && events.back().phase == netdl::Phase::Ended; });
    CHECK(events.size() >= 2 && events.front().phase == netdl::Phase::Began);
    CHECK(!events.empty() && events.back().ok());
    int64_t sent = 0;
    for (size_t i = 0; i + 1 < events.size(); i++) {
        CHECK(events[i].bytes_estimated == static_cast<int64_t>(body.size()));
        CHECK(events[i].bytes_transferred >= sent && events[i].bytes_transferred <= static_cast<int64_t>(body.size()));
        sent = events[i].bytes_transferred;
    }
    CHECK(!events.empty() && events.back().body_text().find("\"body\": \"uuuu") != std::string::npos);
}

/// A socket bound to a port of 127.0.0.1 that never listens: connecting
/// to it is refused for as long as it is open.
struct RefusedPort {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    std::string url;
    RefusedPort() {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        CHECK(fd >= 0 && bind(fd, reinterpret_cast<sockaddr *>(&a), len) == 0 &&
              getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len) == 0);
        url = "http://127.0.0.1:" + std::to_string(ntohs(a.sin_port));
    }
    RefusedPort(const RefusedPort &) = delete;
    RefusedPort &operator=(const RefusedPort &) = delete;
    ~RefusedPort() { close(fd); }
};

/// The net_options members of Params: integrity, retries, mirrors, proxy.
static void test_options(const std::string &base, const std::string &dir) {
    auto run = [](auto start) {
        netdl::Event ev;
        bool done = false;
        auto req = start([&](const netdl::Event &e) { ev = e, done = e.phase == netdl::Phase::Ended; });
        pump_until([&] { return done; });
        CHECK(done);
        return ev;
    };
    auto dl = [&](const std::string &url, const std::string &name, const netdl::Params &p) {
        return run([&](netdl::Listener l) { return netdl::download(url, name, l, p); });
    };
    auto exists = [&](const std::string &name) { return std::filesystem::exists(dir + "/" + name); };
    using netdl::Params;
    RefusedPort refused;

    // python3 -c "import hashlib; print(hashlib.sha256(bytes(i % 251 for i in range(100000))).hexdigest())"
    const std::string sum = "cd2df694e424bc7968cc37f47751019e5ca0cd1bdf2e479ea537c3a1c32ee1aa";
    const std::string wrong = "0" + sum.substr(1);
    auto e = dl(base + "/bytes/100000", "cpp/opt/sum.bin", Params().with_sha256(wrong));
    CHECK(e.is_error && e.error_code == netdl::Error::Integrity);
    CHECK(std::string(e.error_name()) == "NET_ERROR_INTEGRITY");
    CHECK(!exists("cpp/opt/sum.bin"));
    e = dl(base + "/bytes/100000", "cpp/opt/sum.bin", Params().with_sha256(sum));
    CHECK(e.ok() && read_file(dir + "/cpp/opt/sum.bin") == pattern(100000));
    CHECK(e.attempt == 1 && e.bytes_received == 100000 && e.flags == 0 && !e.unchanged() && !e.resumed());
    e = dl(base + "/bytes/1000", "cpp/opt/size.bin", Params().with_expected_size(999));
    CHECK(e.is_error && e.error_code == netdl::Error::Integrity && !exists("cpp/opt/size.bin"));

    // Retries: the ended event reports the last attempt and its error.
    e = dl(refused.url + "/x", "cpp/opt/retry.bin", Params().with_retries(2, 10));
    CHECK(e.is_error && e.error_code == netdl::Error::Connect && e.attempt == 3);

    // A mirror delivers when the main URL is refused.
    const std::string mirror = base + "/bytes/5000";
    e = dl(refused.url + "/x", "cpp/opt/mirror.bin", Params().with_mirror(mirror));
    CHECK(e.ok() && e.url == mirror && e.attempt == 2 && e.bytes_received == 5000);
    CHECK(read_file(dir + "/cpp/opt/mirror.bin") == pattern(5000));

    // Values netdl refuses arrive as InvalidArgument events.
    for (const auto &bad : {Params().with_sha256("xyz"), Params().with_retries(101),
                            Params().with_mirror("not a url"), Params().with_proxy("http://a b"),
                            Params().with_segments(17)}) {
        e = dl(base + "/bytes/10", "cpp/opt/bad.bin", bad);
        CHECK(e.is_error && e.error_code == netdl::Error::InvalidArgument);
    }
    CHECK(!exists("cpp/opt/bad.bin"));
    e = run([&](netdl::Listener l) { return netdl::request(base + "/bytes/10", l, Params().with_sha256(sum)); });
    CHECK(e.is_error && e.error_code == netdl::Error::InvalidArgument);
    e = run([&](netdl::Listener l) { return netdl::request(base + "/bytes/10", l, Params().with_segments(2)); });
    CHECK(e.is_error && e.error_code == netdl::Error::InvalidArgument);

    // An explicit proxy carries the request (this one refuses); "" means none.
    e = run([&](netdl::Listener l) { return netdl::request(base + "/bytes/10", l, Params().with_proxy(refused.url)); });
    CHECK(e.is_error && e.error_code == netdl::Error::Connect);
    e = run([&](netdl::Listener l) { return netdl::request(base + "/bytes/10", l, Params().with_proxy("")); });
    CHECK(e.ok() && e.body == pattern(10));

    // to_c: no net_options unless one is set; every member lands in it.
    netdl::detail::CStorage st;
    CHECK(netdl::detail::to_c(Params().with_progress(), st).options == nullptr);
    auto all = Params().with_retries(3, 5, 50).with_expected_size(7).with_sha256("ab").with_mirror("http://a/")
                   .with_mirror("http://b/").with_proxy("").with_compress().with_keep_partial().with_if_changed()
                   .with_segments(4);
    net_params c = netdl::detail::to_c(all, st);
    CHECK(c.options == &st.options);
    const net_options &o = st.options;
    CHECK(o.size == sizeof(net_options) && o.max_retries == 3 && o.retry_delay_ms == 5 &&
          o.retry_max_delay_ms == 50 && o.expected_size == 7 && std::string(o.sha256) == "ab");
    CHECK(o.mirror_count == 2 && std::string(o.mirrors[0]) == "http://a/" && std::string(o.mirrors[1]) == "http://b/");
    CHECK(o.proxy && std::string(o.proxy).empty() && o.compress && o.keep_partial && o.if_changed);
    CHECK(o.reserved8 == 0 && o.segments == 4);
}

/// with_segments(2): an 8 MiB file comes over two connections, the first
/// keeping the first 4 MiB and a helper asking for the rest with a Range.
static void test_segments(const std::string &base, const std::string &dir, const std::string &served) {
    std::vector<uint8_t> data(8 << 20);
    std::mt19937 random(8);
    for (auto &b : data)
        b = static_cast<uint8_t>(random());
    // Each run (normal, sanitizers) has its own name: the server remembers the ranges asked per name.
    const std::string name = "big-" + std::to_string(getpid()) + ".bin";
    std::ofstream(served + "/" + name, std::ios::binary).write(reinterpret_cast<const char *>(data.data()), data.size());

    netdl::Event e;
    bool done = false;
    auto req = netdl::download(base + "/files/" + name, "cpp/" + name,
                               [&](const netdl::Event &ev) { e = ev, done = ev.phase == netdl::Phase::Ended; },
                               netdl::Params().with_segments(2));
    pump_until([&] { return done; });
    CHECK(done && e.ok() && e.status == 200);
    CHECK(read_file(dir + "/cpp/" + name) == data);

    done = false;
    auto ranges = netdl::request(base + "/ranges/" + name, [&](const netdl::Event &ev) { e = ev, done = true; });
    pump_until([&] { return done; });
    CHECK(e.ok() && e.body_text() == "bytes=4194304-8388607\n");
}

/// tag, priority, max_speed and persist; suspend()/resume(), restore(),
/// set_priority() and set_max_speed().
static void test_lifecycle(const std::string &base, const std::string &paced, const std::string &dir,
                           const std::string &served) {
    using netdl::Params;
    // Every event of one request, until its ended event (or 10 s).
    auto events_of = [](auto start) {
        std::vector<netdl::Event> evs;
        auto req = start([&](const netdl::Event &e) { evs.push_back(e); });
        pump_until([&] { return !evs.empty() && evs.back().phase == netdl::Phase::Ended; });
        CHECK(!evs.empty() && evs.back().phase == netdl::Phase::Ended);
        return evs;
    };
    auto ended = [&](auto start) {
        auto evs = events_of(start);
        return evs.empty() ? netdl::Event() : evs.back();
    };

    // The tag is in every event of a download and of a request.
    const std::string tag = "level-3/pack \xc3\xa9";
    auto evs = events_of([&](netdl::Listener l) {
        return netdl::download(base + "/bytes/300000", "cpp/tag.bin", l, Params().with_progress().with_tag(tag));
    });
    CHECK(evs.size() >= 2 && evs.front().phase == netdl::Phase::Began && evs.back().ok());
    for (const auto &e : evs)
        CHECK(e.tag == tag && !e.restored());
    CHECK(read_file(dir + "/cpp/tag.bin") == pattern(300000));
    evs = events_of([&](netdl::Listener l) {
        return netdl::request(base + "/bytes/10", l, Params().with_progress().with_tag(""));
    });
    CHECK(evs.size() >= 2 && evs.back().body == pattern(10));
    for (const auto &e : evs)
        CHECK(e.tag == std::string());  // an empty tag is a tag
    auto e = ended([&](netdl::Listener l) { return netdl::request(base + "/bytes/10", l); });
    CHECK(e.ok() && !e.tag);

    // A tag of NET_MAX_TAG bytes passes; one more is refused.
    e = ended([&](netdl::Listener l) {
        return netdl::download(base + "/bytes/10", "cpp/tag1024.bin", l,
                               Params().with_tag(std::string(NET_MAX_TAG, 'x')));
    });
    CHECK(e.ok() && e.tag == std::string(NET_MAX_TAG, 'x'));
    e = ended([&](netdl::Listener l) {
        return netdl::download(base + "/bytes/10", "cpp/tag1025.bin", l,
                               Params().with_tag(std::string(NET_MAX_TAG + 1, 'x')));
    });
    CHECK(e.is_error && e.error_code == netdl::Error::InvalidArgument && e.error.find("tag") != std::string::npos);
    CHECK(!std::filesystem::exists(dir + "/cpp/tag1025.bin"));
    // persist is for downloads only.
    e = ended([&](netdl::Listener l) { return netdl::request(base + "/bytes/10", l, Params().with_persist()); });
    CHECK(e.is_error && e.error_code == netdl::Error::InvalidArgument &&
          e.error.find("persist applies to downloads only") != std::string::npos);
    // priority and max_speed reach netdl: a download with both completes.
    e = ended([&](netdl::Listener l) {
        return netdl::download(base + "/bytes/1000", "cpp/prio.bin", l,
                               Params().with_priority(-3).with_max_speed(1 << 20));
    });
    CHECK(e.ok() && read_file(dir + "/cpp/prio.bin") == pattern(1000));

    // to_c: each member lands in net_options; none of them set, no net_options.
    netdl::detail::CStorage st;
    CHECK(netdl::detail::to_c(Params().with_priority(0).with_max_speed(0).with_persist(false), st).options == nullptr);
    auto set = Params().with_priority(-7).with_max_speed(5).with_tag("t").with_persist();
    net_params c = netdl::detail::to_c(set, st);  // points into `set`
    CHECK(c.options == &st.options && sizeof(net_options) == 88);
    CHECK(st.options.priority == -7 && st.options.max_speed == 5 && std::string(st.options.tag) == "t" &&
          st.options.persist == 1 && st.options.reserved24[0] == 0 && st.options.reserved24[2] == 0);

    // copy(): the restored flag and the tag of a C event.
    net_event raw{};
    raw.phase = NET_PHASE_BEGAN;
    raw.flags = NET_EVENT_RESTORED | NET_EVENT_RESUMED;
    raw.tag = "from the journal";
    netdl::Event restored = netdl::detail::copy(raw);
    CHECK(restored.restored() && restored.resumed() && restored.tag == std::string("from the journal"));

    // restore() with an empty journal starts nothing.
    CHECK(netdl::set_directory(netdl::Dir::ApplicationSupport, dir + "/support"));
    bool called = false;
    auto none = [&](const netdl::Event &) { called = true; };
    CHECK(netdl::restore(none) == 0 && netdl::restore(none) == 0);
    netdl::poll();
    CHECK(!called);

    // set_priority: true for a queued request, false for unknown and ended ones.
    CHECK(netdl::set_limits(1, 1));
    bool slow_done = false, queued_done = false;
    auto slow = netdl::request(base + "/slow/20480?ms=20", [&](const netdl::Event &ev) {
        slow_done = ev.phase == netdl::Phase::Ended && ev.body == pattern(20480);
    });
    auto queued = netdl::request(base + "/bytes/10", [&](const netdl::Event &ev) {
        queued_done = ev.phase == netdl::Phase::Ended && ev.body == pattern(10);
    }, Params().with_priority(1));
    CHECK(netdl::set_priority(queued.id(), 5));
    CHECK(!netdl::set_priority(net_id{1} << 62, 1) && !netdl::set_priority(0, 1));
    CHECK(netdl::set_limits(64, 64));
    pump_until([&] { return slow_done && queued_done; });
    CHECK(slow_done && queued_done);
    CHECK(!netdl::set_priority(queued.id(), 1));

    // set_max_speed(0): no cap.
    netdl::set_max_speed(0);
    e = ended([&](netdl::Listener l) { return netdl::request(base + "/bytes/1000", l); });
    CHECK(e.ok() && e.body == pattern(1000));

    // suspend()/resume(): a 3 MiB download at 4 MiB/s, suspended once bytes flow.
    std::vector<uint8_t> data(3 << 20);
    std::mt19937 random(14);
    for (auto &b : data)
        b = static_cast<uint8_t>(random());
    const std::string name = "suspend-" + std::to_string(getpid()) + ".bin";
    std::ofstream(served + "/" + name, std::ios::binary).write(reinterpret_cast<const char *>(data.data()), data.size());
    evs.clear();
    auto flowing = [&] {
        for (const auto &ev : evs)
            if (ev.phase == netdl::Phase::Progress && ev.bytes_transferred > 0)
                return true;
        return false;
    };
    auto ended_event = [&]() -> const netdl::Event * {
        for (const auto &ev : evs)
            if (ev.phase == netdl::Phase::Ended)
                return &ev;
        return nullptr;
    };
    auto req = netdl::download(paced + "/files/" + name, "cpp/" + name,
                               [&](const netdl::Event &ev) { evs.push_back(ev); },
                               Params().with_progress().with_tag("s"));
    pump_until(flowing);
    netdl::suspend();
    CHECK(flowing() && !ended_event());
    // Absence of an ended event while suspended, over a short bounded time.
    using clock = std::chrono::steady_clock;
    const auto until = clock::now() + std::chrono::milliseconds(300);
    for (auto now = clock::now(); now < until; now = clock::now())
        netdl::wait(static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count()));
    CHECK(!ended_event());
    netdl::resume();
    pump_until([&] { return ended_event() != nullptr; });
    const netdl::Event *end = ended_event();
    CHECK(end && end->ok() && end->tag == std::string("s") && end->resumed());
    CHECK(read_file(dir + "/cpp/" + name) == data);
    e = ended([&](netdl::Listener l) { return netdl::request(paced + "/ranges/" + name, l); });
    const std::string asked = e.body_text();  // one "bytes=N-" line, 0 < N < the size
    CHECK(asked.size() > 8 && asked.compare(0, 6, "bytes=") == 0 && asked.substr(asked.size() - 2) == "-\n");
    const long long from = std::atoll(asked.c_str() + 6);
    CHECK(from > 0 && from < static_cast<long long>(data.size()) &&
          asked == "bytes=" + std::to_string(from) + "-\n");
}

/// The first run of test_restore, as `test_netdl --persist-child SUPPORT
/// DOCUMENTS URL NAME`: starts a persisted, tagged download of URL into
/// DOCUMENTS/NAME, suspends once 1.5 MiB arrived (so it cannot finish before
/// it is killed), prints how many bytes it had and waits to be killed.
/// Exits 1 if the download ended first, or after 10 s without the bytes.
static int persist_child(char **argv) {
    netdl::set_directory(netdl::Dir::ApplicationSupport, argv[2]);
    netdl::set_directory(netdl::Dir::Documents, argv[3]);
    int64_t got = 0;
    bool ended = false;
    auto req = netdl::download(argv[4], argv[5], [&](const netdl::Event &e) {
        ended = ended || e.phase == netdl::Phase::Ended;
        if (got == 0 && e.bytes_transferred >= 1536 * 1024)
            got = e.bytes_transferred;
    }, netdl::Params().with_progress().with_persist().with_tag("pack-7"));
    pump_until([&] { return got > 0 || ended; });
    if (got == 0 || ended)
        return 1;
    netdl::suspend();
    std::printf("%lld\n", static_cast<long long>(got));
    std::fflush(stdout);
    for (;;)
        pause();
}

/// restore(listener): a second run of this program starts a persisted,
/// tagged 4 MiB download from the paced server and is killed (SIGKILL) once
/// 1.5 MiB arrived; this process restores it, and the listener gets its
/// events from wait().
static void test_restore(const std::string &paced, const std::string &dir, const std::string &served) {
    std::vector<uint8_t> data(4 << 20);
    std::mt19937 random(7);
    for (auto &b : data)
        b = static_cast<uint8_t>(random());
    const std::string name = "restored-" + std::to_string(getpid()) + ".bin";
    std::ofstream(served + "/" + name, std::ios::binary).write(reinterpret_cast<const char *>(data.data()), data.size());
    const std::string support = dir + "/restore/support", docs = dir + "/restore/docs";
    const std::string url = paced + "/files/" + name;

    int out[2];
    CHECK(pipe(out) == 0);
    const char *args[] = {"test_netdl", "--persist-child", support.c_str(), docs.c_str(), url.c_str(), name.c_str(),
                          nullptr};
    pid_t child = fork();
    if (child == 0) {  // only async-signal-safe calls until exec
        dup2(out[1], 1);
        close(out[0]);
        close(out[1]);
        execv("/proc/self/exe", const_cast<char **>(args));
        _exit(127);
    }
    close(out[1]);
    std::string line;
    char c;
    while (read(out[0], &c, 1) == 1 && c != '\n')
        line += c;
    close(out[0]);
    const long long got = std::atoll(line.c_str());
    CHECK(got >= 1536 * 1024 && got < static_cast<long long>(data.size()));
    CHECK(child > 0 && kill(child, SIGKILL) == 0);
    int status = 0;
    CHECK(waitpid(child, &status, 0) == child && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

    CHECK(netdl::set_directory(netdl::Dir::ApplicationSupport, support));
    CHECK(netdl::set_directory(netdl::Dir::Documents, docs));
    std::vector<netdl::Event> evs;
    CHECK(netdl::restore([&](const netdl::Event &e) { evs.push_back(e); }) == 1);
    pump_until([&] { return !evs.empty() && evs.back().phase == netdl::Phase::Ended; });
    CHECK(evs.size() >= 2);
    if (evs.size() < 2)
        return;
    const netdl::Event &began = evs.front(), &end = evs.back();
    CHECK(began.phase == netdl::Phase::Began && began.restored() && began.status == 0);
    for (const auto &e : evs)
        CHECK(e.id == began.id && e.restored() && e.tag == std::string("pack-7"));
    CHECK(end.phase == netdl::Phase::Ended && end.ok() && end.path == docs + "/" + name);
    CHECK(read_file(docs + "/" + name) == data);
    std::vector<std::string> left;  // no partial file
    for (const auto &entry : std::filesystem::directory_iterator(docs))
        left.push_back(entry.path().filename().string());
    CHECK(left == std::vector<std::string>{name});
    // It continued the data the journal claimed (a Range from there), or
    // started over when it had claimed none yet.
    std::string asked;
    bool asked_done = false;
    auto ranges = netdl::request(paced + "/ranges/" + name, [&](const netdl::Event &e) {
        asked = e.ok() ? e.body_text() : "failed";
        asked_done = true;
    });
    pump_until([&] { return asked_done; });
    CHECK(asked_done);
    if (began.bytes_transferred > 0)
        CHECK(asked == "bytes=" + std::to_string(began.bytes_transferred) + "-\n" && end.resumed());
    else
        CHECK(asked.empty());
    CHECK(netdl::restore([](const netdl::Event &) {}) == 0);  // its record went when it ended
    CHECK(netdl::set_directory(netdl::Dir::Documents, dir));
}

int main(int argc, char **argv) {
    if (argc == 6 && std::string(argv[1]) == "--persist-child")
        return persist_child(argv);
    if (argc != 5) {
        std::fprintf(stderr, "usage: test_netdl BASE_URL DIRECTORY SERVED PACED_URL\n");
        return 2;
    }
    const std::string base = argv[1], dir = argv[2], served = argv[3], paced = argv[4];
    CHECK(netdl::set_directory(netdl::Dir::Documents, dir));
    CHECK(netdl::directory(netdl::Dir::Documents) == dir);
    CHECK(!netdl::version().empty());

    // A download with progress: began, progress..., ended, byte-exact file.
    std::vector<netdl::Phase> phases;
    netdl::Event last;
    auto req = netdl::download(base + "/bytes/300000", "cpp/a.bin",
                               [&](const netdl::Event &e) {
                                   phases.push_back(e.phase);
                                   last = e;
                               },
                               netdl::Params().with_progress());
    CHECK(req);
    pump_until([&] { return !phases.empty() && phases.back() == netdl::Phase::Ended; });
    CHECK(well_ordered(phases));
    CHECK(last.ok() && last.status == 200 && last.bytes_transferred == 300000);
    CHECK(last.filename == "cpp/a.bin" && last.path == dir + "/cpp/a.bin");
    CHECK(read_file(dir + "/cpp/a.bin") == pattern(300000));
    CHECK(!req.cancel());  // already ended

    // 404 is a status, not an error; no file is written.
    netdl::Event nf;
    bool nf_done = false;
    auto r404 = netdl::download(base + "/status/404", "cpp/missing.bin", [&](const netdl::Event &e) {
        nf = e;
        nf_done = true;
    });
    pump_until([&] { return nf_done; });
    CHECK(nf_done && !nf.is_error && nf.status == 404 && !nf.ok());
    CHECK(nf.body_text() == "status 404");
    CHECK(!std::ifstream(dir + "/cpp/missing.bin").good());

    // A request in memory, with headers and a body.
    netdl::Event echo;
    bool echo_done = false;
    auto r = netdl::request(base + "/echo", [&](const netdl::Event &e) { echo = e, echo_done = true; },
                            netdl::Params().with_header("X-Test", "yes").with_body("hello"), "PUT");
    pump_until([&] { return echo_done; });
    CHECK(echo.ok() && echo.response_type == netdl::ResponseType::Text);
    CHECK(echo.body_text().find("\"method\": \"PUT\"") != std::string::npos);
    CHECK(echo.body_text().find("\"X-Test\": \"yes\"") != std::string::npos);
    CHECK(echo.body_text().find("\"body\": \"hello\"") != std::string::npos);

    // RAII: destroying the handle cancels; its listener never runs again.
    int calls = 0;
    net_id slow_id;
    {
        auto slow = netdl::download(base + "/slow/200000?ms=20", "cpp/slow.bin",
                                    [&](const netdl::Event &) { calls++; }, netdl::Params().with_progress());
        slow_id = slow.id();
        pump_until([&] { return calls > 0; });
        CHECK(calls > 0);
    }
    int before = calls;
    CHECK(!net_cancel(slow_id));  // already cancelled by the destructor
    bool after_done = false;
    auto after = netdl::download(base + "/bytes/10", "cpp/after.bin", [&](const netdl::Event &e) {
        after_done = e.phase == netdl::Phase::Ended;
    });
    pump_until([&] { return after_done; });
    CHECK(after_done && calls == before);
    CHECK(!std::ifstream(dir + "/cpp/slow.bin").good());

    // Moving a handle moves ownership; release() detaches.
    netdl::Request moved = std::move(after);
    CHECK(!after && moved.id() != 0);
    CHECK(moved.release() != 0 && !moved);

    // Bad input arrives as an error event.
    netdl::Event bad;
    bool bad_done = false;
    auto b = netdl::download("ftp://127.0.0.1/x", "x.bin", [&](const netdl::Event &e) { bad = e, bad_done = true; });
    pump_until([&] { return bad_done; });
    CHECK(bad.is_error && bad.error_code == netdl::Error::UnsupportedScheme);
    CHECK(std::string(bad.error_name()) == "NET_ERROR_UNSUPPORTED_SCHEME");

    // The loopback server accepts few connections at once (listen backlog 5):
    // the batches below go through 4 kept-alive connections.
    CHECK(netdl::set_limits(4, 4));
    test_reentrant_listener(base, dir);
    test_throwing_listener(base, dir);
    test_cancel_within_batch(base, dir);
    CHECK(netdl::set_limits(64, 64));
    test_own_queue(base, dir);
    test_upload_progress(base);
    test_enums_and_headers(base);
    test_params(base, dir);
    test_options(base, dir);
    test_segments(base, dir, served);
    test_lifecycle(base, paced, dir, served);
    test_restore(paced, dir, served);

    netdl::shutdown();
    std::printf("%s: %d failure(s)\n", failures ? "FAILED" : "ok", failures);
    return failures ? 1 : 0;
}
