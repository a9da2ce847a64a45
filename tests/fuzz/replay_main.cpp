// Runs a fuzz target's LLVMFuzzerTestOneInput on files, without libFuzzer: the seed corpus and every
// saved crash (regressions/) are replayed by ctest in the ordinary build, with any compiler. The same
// limits as the fuzzer's apply, so an out-of-memory or a hang found once fails here too: 2 GB of
// address space (std::bad_alloc escapes and aborts) and 10 s per input (SIGALRM kills).
//   fuzz_replay_<target> FILE_OR_DIR...
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include <sys/resource.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define XLENS_REPLAY_UNDER_ASAN 1  // ASan reserves terabytes of address space: no RLIMIT_AS then
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define XLENS_REPLAY_UNDER_ASAN 1
#endif
#endif

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

int main(int argc, char** argv) {
#ifndef XLENS_REPLAY_UNDER_ASAN
    const rlimit two_gb{2ul << 30, 2ul << 30};
    setrlimit(RLIMIT_AS, &two_gb);
#endif
    std::size_t replayed = 0;
    for (int i = 1; i < argc; ++i) {
        std::vector<std::filesystem::path> files;
        if (std::filesystem::is_directory(argv[i])) {
            for (const auto& e : std::filesystem::directory_iterator(argv[i]))
                if (e.is_regular_file() && e.path().filename() != "README.md") files.push_back(e.path());
        } else if (std::filesystem::exists(argv[i])) {
            files.emplace_back(argv[i]);
        }
        for (const auto& f : files) {
            std::ifstream in(f, std::ios::binary);
            std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
            std::printf("%s\n", f.string().c_str());
            std::fflush(stdout);
            alarm(10);
            LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
            alarm(0);
            ++replayed;
        }
    }
    std::printf("replayed %zu inputs\n", replayed);
    return replayed ? 0 : 1;
}
