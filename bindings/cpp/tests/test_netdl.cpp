// Tests of bindings/cpp/netdl.hpp against scripts/loopback_server.py.
//   test_netdl BASE_URL DIRECTORY
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
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

int main(int argc, char **argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: test_netdl BASE_URL DIRECTORY\n");
        return 2;
    }
    const std::string base = argv[1], dir = argv[2];
    CHECK(netdl::set_directory(NET_DIR_DOCUMENTS, dir));
    CHECK(netdl::directory(NET_DIR_DOCUMENTS) == dir);
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
    CHECK(phases.size() >= 2 && phases.front() == netdl::Phase::Began);
    CHECK(!phases.empty() && phases.back() == netdl::Phase::Ended);
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
    CHECK(echo.ok() && echo.response_type == NET_RESPONSE_TEXT);
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
    CHECK(bad.is_error && std::string(bad.error_name()) == "NET_ERROR_UNSUPPORTED_SCHEME");

    netdl::shutdown();
    std::printf("%s: %d failure(s)\n", failures ? "FAILED" : "ok", failures);
    return failures ? 1 : 0;
}
