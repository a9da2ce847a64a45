// xlens/io/file_writer.hpp — writing a whole file so that it appears complete or not at all.
//
// The bytes go to "path.tmp", which is fsynced and then renamed over `path`: a crash or kill
// mid-write leaves at most a stray .tmp file, never a truncated file under the real name.
// Used by write_safetensors (io/safetensors.hpp) and write_npy (io/npy.hpp).
//
// Error ids (io_error; every message names the path):
//   110 cannot create the .tmp file    111 cannot write, flush or close it    112 cannot rename it
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include "xlens/error.hpp"

namespace xlens::io::detail {

/// Writes `pieces` to "path.tmp", fsyncs, and renames it to `path`, so a crash or kill mid-write
/// never leaves a complete-looking file behind. Throws io_error 110 (create), 111 (write), 112 (rename).
inline void write_file_atomically(const std::string& path,
                                  const std::vector<std::pair<const void*, std::size_t>>& pieces) {
    const std::string tmp = path + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw io_error(110, "cannot create '" + tmp + "' to write '" + path + "': " + std::strerror(errno));
    auto fail = [&](int id, const std::string& doing) {
        int e = errno;
        if (fd >= 0) ::close(fd);
        ::unlink(tmp.c_str());
        throw io_error(id, "cannot " + doing + " '" + path + "': " + std::strerror(e));
    };
    for (const auto& [data, size] : pieces) {
        const auto* p = static_cast<const char*>(data);
        std::size_t left = size;
        while (left > 0) {
            ssize_t n = ::write(fd, p, left);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) fail(111, "write");
            p += n;
            left -= static_cast<std::size_t>(n);
        }
    }
    if (::fsync(fd) != 0) fail(111, "flush");
    int rc = ::close(fd);
    fd = -1;
    if (rc != 0) fail(111, "close");
    if (std::rename(tmp.c_str(), path.c_str()) != 0) fail(112, "rename '" + tmp + "' to");
}

}  // namespace xlens::io::detail
