// Opening a model maps its weights rather than copying them: the resident memory the process gains
// from model::load must be a small fraction of the weight files' size. Only the pages a run touches
// are read in later, by the kernel, from the page cache.
//   xlens_open_maps MODEL MAX_FRACTION     e.g. a 538 MB float32 safetensors folder and 0.05
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

#include <xlens/model/loader.hpp>

namespace {

std::size_t resident_bytes() {
    std::ifstream statm("/proc/self/statm");
    std::size_t size = 0, resident = 0;
    statm >> size >> resident;
    return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

std::uintmax_t weight_file_bytes(const std::filesystem::path& path) {
    if (!std::filesystem::is_directory(path)) return std::filesystem::file_size(path);
    std::uintmax_t total = 0;
    for (const auto& entry : std::filesystem::directory_iterator(path))
        if (entry.path().extension() == ".safetensors") total += entry.file_size();
    return total;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s MODEL MAX_FRACTION\n", argv[0]);
        return 2;
    }
    const std::string path = argv[1];
    const double max_fraction = std::atof(argv[2]);
    const double file_mb = static_cast<double>(weight_file_bytes(path)) / 1e6;
    const std::size_t before = resident_bytes();
    auto model = xlens::model::load(path);
    const std::size_t after = resident_bytes();
    const double grown_mb = static_cast<double>(after - before) / 1e6;
    const double fraction = grown_mb / file_mb;
    std::printf("%s: %s, weights %.1f MB; resident memory %.1f MB before open, %.1f MB after (+%.1f MB = %.2f%% of the weights; limit %.0f%%)\n",
                path.c_str(), model.config().architecture.c_str(), file_mb, static_cast<double>(before) / 1e6,
                static_cast<double>(after) / 1e6, grown_mb, 100 * fraction, 100 * max_fraction);
    return fraction <= max_fraction ? 0 : 1;
}
