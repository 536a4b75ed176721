// Downloads one URL into DIRECTORY/file.bin through the C++ wrapper of an
// installed netdl; prints the outcome. Exits 0 on a 2xx download.
#include <cstdio>

#include <netdl.hpp>

int main(int argc, char **argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: consumer URL DIRECTORY\n");
        return 2;
    }
    netdl::set_directory(netdl::Dir::Documents, argv[2]);
    bool done = false, ok = false;
    auto req = netdl::download(argv[1], "file.bin", [&](const netdl::Event &e) {
        if (e.phase != netdl::Phase::Ended)
            return;
        done = true;
        ok = e.ok();
        std::printf("netdl %s: status %d, %lld bytes, %s\n", netdl::version().c_str(), e.status,
                    static_cast<long long>(e.bytes_transferred), e.is_error ? e.error_name() : "ok");
    });
    for (int i = 0; i < 500 && !done; i++)
        netdl::wait(20);
    netdl::shutdown();
    return ok ? 0 : 1;
}
