// xlens/error.hpp — the exception hierarchy.
//
// Every failure the library can diagnose is an xlens::error (a std::runtime_error) with a stable
// numeric id. what() reads "[xlens.<kind>.<id>] <message>", and the message names the file, tensor
// or field at fault, so a user can act on it without a debugger. Tests assert on the ids and text.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace xlens {

/// Base of every exception xlens throws on purpose.
class error : public std::runtime_error {
public:
    /// Stable number of this error: the hundreds digit is the kind (see the subclasses).
    int id() const noexcept { return id_; }

protected:
    error(const char* kind, int id, const std::string& message)
        : std::runtime_error("[xlens." + std::string(kind) + "." + std::to_string(id) + "] " + message),
          id_(id) {}

private:
    int id_;
};

/// 1xx: a file could not be opened, mapped, read or written.
class io_error : public error {
public:
    io_error(int id, const std::string& message) : error("io_error", id, message) {}
};

/// 2xx: a file's bytes do not form a valid safetensors / GGUF / npy / JSON document.
class format_error : public error {
public:
    format_error(int id, const std::string& message) : error("format_error", id, message) {}
};

/// 3xx: a configuration is missing a field, has a wrong value, or asks for an unsupported feature.
class config_error : public error {
public:
    config_error(int id, const std::string& message) : error("config_error", id, message) {}
};

/// 4xx: a checkpoint does not hold the tensors its architecture needs, or holds them in wrong shapes.
class weights_error : public error {
public:
    weights_error(int id, const std::string& message) : error("weights_error", id, message) {}
};

/// 5xx: an argument to a run is invalid (token out of range, sequence too long, empty input).
class input_error : public error {
public:
    input_error(int id, const std::string& message) : error("input_error", id, message) {}
};

/// 6xx: a hook name is unknown, or a hook changed an activation's shape.
class hook_error : public error {
public:
    hook_error(int id, const std::string& message) : error("hook_error", id, message) {}
};

namespace detail {

/// a * b, or a format_error naming `what` if the product does not fit in 64 bits.
inline std::uint64_t checked_mul(std::uint64_t a, std::uint64_t b, const std::string& what) {
    if (a != 0 && b > UINT64_MAX / a) throw format_error(201, what + ": size overflows 64 bits");
    return a * b;
}

/// a + b, or a format_error naming `what` if the sum does not fit in 64 bits.
inline std::uint64_t checked_add(std::uint64_t a, std::uint64_t b, const std::string& what) {
    if (b > UINT64_MAX - a) throw format_error(201, what + ": size overflows 64 bits");
    return a + b;
}

}  // namespace detail
}  // namespace xlens
