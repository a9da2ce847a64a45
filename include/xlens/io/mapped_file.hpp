// xlens/io/mapped_file.hpp — a read-only memory mapping of a whole file.
//
// The weights of a model are read where they lie: the file is mapped once, and typed views point
// into the mapping. Pages are loaded by the kernel on first touch, so opening a model costs only
// what its header parse costs, and resident memory grows with the pages a run actually reads.
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xlens/error.hpp"

namespace xlens::io {

/// Owns a read-only mapping of one file. Move-only; the mapping lives until destruction.
/// Views handed out by readers point into it, so it must outlive them.
class mapped_file {
public:
    mapped_file() = default;

    /// Maps `path` read-only. Throws io_error 101 (cannot open), 102 (not a regular file), 103 (mmap failed).
    explicit mapped_file(std::string path) : path_(std::move(path)) {
        int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) throw io_error(101, "cannot open '" + path_ + "': " + std::strerror(errno));
        struct stat st {};
        if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            ::close(fd);
            throw io_error(102, "'" + path_ + "' is not a regular file");
        }
        size_ = static_cast<std::size_t>(st.st_size);
        if (size_ > 0) {
            void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
            if (p == MAP_FAILED) {
                int e = errno;
                ::close(fd);
                throw io_error(103, "cannot map '" + path_ + "': " + std::strerror(e));
            }
            data_ = static_cast<const std::uint8_t*>(p);
        }
        ::close(fd);  // the mapping keeps its own reference to the file
    }

    /// Bytes already in memory (e.g. a file rebuilt from a weight database) behind the same interface,
    /// so every reader works on them unchanged. `name` stands in for the path in error messages.
    static mapped_file from_memory(std::string name, std::vector<std::uint8_t> bytes) {
        mapped_file m;
        m.path_ = std::move(name);
        m.owned_ = std::move(bytes);
        m.mapped_ = false;
        m.data_ = m.owned_.data();
        m.size_ = m.owned_.size();
        return m;
    }

    mapped_file(const mapped_file&) = delete;
    mapped_file& operator=(const mapped_file&) = delete;
    mapped_file(mapped_file&& other) noexcept { swap(other); }
    mapped_file& operator=(mapped_file&& other) noexcept {
        if (this != &other) {
            unmap();
            swap(other);
        }
        return *this;
    }
    ~mapped_file() { unmap(); }

    const std::uint8_t* data() const noexcept { return data_; }
    std::size_t size() const noexcept { return size_; }
    const std::string& path() const noexcept { return path_; }

private:
    void unmap() noexcept {
        if (data_ != nullptr && mapped_) ::munmap(const_cast<std::uint8_t*>(data_), size_);
        owned_.clear();
        data_ = nullptr;
        size_ = 0;
    }
    void swap(mapped_file& o) noexcept {
        std::swap(path_, o.path_);
        std::swap(data_, o.data_);
        std::swap(size_, o.size_);
        std::swap(owned_, o.owned_);  // a vector's buffer keeps its address when swapped
        std::swap(mapped_, o.mapped_);
    }

    std::string path_;
    const std::uint8_t* data_ = nullptr;
    std::size_t size_ = 0;
    std::vector<std::uint8_t> owned_;  // from_memory's bytes; empty for a real mapping
    bool mapped_ = true;               // data_ is an mmap to undo (false for from_memory)
};

}  // namespace xlens::io
