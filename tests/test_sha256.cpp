// Tests for xlens/io/sha256.hpp: the FIPS 180-2 / NIST example vectors, digests of the padding edge
// lengths computed by Python's hashlib, and incremental hashing split at every possible boundary.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "xlens/io/sha256.hpp"

namespace {

using xlens::io::sha256;
using xlens::io::sha256_hex;

std::string hex_of(const std::string& s) { return sha256_hex(s.data(), s.size()); }

std::vector<std::uint8_t> random_bytes(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::vector<std::uint8_t> v(n);
    for (auto& b : v) b = static_cast<std::uint8_t>(rng() & 0xffu);
    return v;
}

/// Byte i is (31 i + 7) mod 256, so Python can rebuild the same buffer to produce expected digests.
std::vector<std::uint8_t> pattern(std::size_t n) {
    std::vector<std::uint8_t> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>((i * 31 + 7) & 0xffu);
    return v;
}

/// Hash of `data` fed as [0, a), [a, b), [b, end).
std::string split_hex(const std::vector<std::uint8_t>& data, std::size_t a, std::size_t b) {
    sha256 h;
    h.update(data.data(), a).update(data.data() + a, b - a).update(data.data() + b, data.size() - b);
    return h.hex_digest();
}

}  // namespace

TEST_CASE("sha256: NIST example vectors") {
    CHECK(hex_of("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(sha256_hex(nullptr, 0) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(hex_of("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    // 448 bits: the length field no longer fits in the first block, so padding needs a second one.
    CHECK(hex_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");

    SUBCASE("one million 'a' fed in uneven pieces") {
        const std::string a(1000000, 'a');
        const std::size_t pieces[] = {1, 7, 63, 64, 65, 127, 1000, 4097};
        sha256 h;
        std::size_t done = 0;
        for (std::size_t i = 0; done < a.size(); ++i) {
            const std::size_t n = std::min(pieces[i % 8], a.size() - done);
            h.update(a.data() + done, n);
            done += n;
        }
        CHECK(h.hex_digest() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
        CHECK(hex_of(a) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    }
}

TEST_CASE("sha256: padding edge lengths match Python's hashlib") {
    // python3 -c 'import hashlib; p=bytes((i*31+7)&255 for i in range(200)); print(hashlib.sha256(p[:L]).hexdigest())'
    const std::pair<std::size_t, const char*> expected[] = {
        {55, "8aa994584139d128848eeebc4e815639ba5ab6e6e39574195a63ac4f14f7c43b"},
        {56, "ad574708f75c044c9b85de64cb568ee7711ff4f36448c6242f053ba8f6cc2b63"},
        {63, "280ed3e8ff1df845b2e7dfe6ac6cee817bef20e783cc65abc41b818b4d2fe076"},
        {64, "c6ab9724ade5b6a7a1edfffb12f3aa9181351355af8fd08c919952ad211339dd"},
        {65, "788367c73c7ddf4c53f65e68cc0d943e6227ab55b0e78ba63ace822b1c6301c0"},
        {119, "3d610547d68216dedf7435a4fb6260353911f6b3fd3f18805ddb8be285d726fe"},
        {120, "1f80156a804cb7862ad113e8200e9d74499723e7c7854d5f48776d3148e09656"},
    };
    for (const auto& [len, hex] : expected) {
        CAPTURE(len);
        const auto p = pattern(len);
        CHECK(sha256_hex(p.data(), p.size()) == hex);
    }
}

TEST_CASE("sha256: incremental hashing equals one-shot at every split point") {
    const auto data = random_bytes(131, 1);
    const std::string whole = sha256_hex(data.data(), data.size());
    for (std::size_t a = 0; a <= 130; ++a) {
        CAPTURE(a);
        CHECK(split_hex(data, a, a) == whole);
        CHECK(split_hex(data, a, std::min<std::size_t>(a + 64, data.size())) == whole);
    }

    for (std::size_t len : {55u, 56u, 63u, 64u, 65u, 119u, 120u}) {
        CAPTURE(len);
        const auto d = random_bytes(len, static_cast<unsigned>(len));
        const std::string one_shot = sha256_hex(d.data(), d.size());
        for (std::size_t a = 0; a <= len; ++a)
            for (std::size_t b = a; b <= len; ++b) REQUIRE(split_hex(d, a, b) == one_shot);
        sha256 bytewise;
        for (std::uint8_t byte : d) bytewise.update(&byte, 1);
        CHECK(bytewise.hex_digest() == one_shot);
    }

    SUBCASE("unaligned input") {
        const auto d = random_bytes(1000, 2);
        const std::string expected = sha256_hex(d.data(), 999);
        std::vector<std::uint8_t> shifted(1003);
        for (std::size_t off = 1; off < 4; ++off) {
            std::copy(d.begin(), d.begin() + 999, shifted.begin() + static_cast<std::ptrdiff_t>(off));
            CHECK(sha256_hex(shifted.data() + off, 999) == expected);
        }
    }
}

TEST_CASE("sha256: digest() and hex_digest() agree; update after finalising throws") {
    const std::string msg = "abc";
    sha256 h;
    h.update(msg.data(), msg.size());
    const std::array<std::uint8_t, 32> raw = h.digest();
    const std::string hex = h.hex_digest();
    CHECK(hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    static const char digits[] = "0123456789abcdef";
    for (std::size_t i = 0; i < 32; ++i) {
        CHECK(hex[2 * i] == digits[raw[i] >> 4]);
        CHECK(hex[2 * i + 1] == digits[raw[i] & 0x0f]);
    }
    CHECK(h.digest() == raw);  // repeated calls return the same value, not a hash of the padding

    sha256 g;
    g.update(msg.data(), msg.size());
    CHECK(g.hex_digest() == hex);  // hex first, then raw
    CHECK(g.digest() == raw);
    CHECK_THROWS_AS(g.update(msg.data(), msg.size()), std::logic_error);
    CHECK_THROWS_AS(g.update(msg.data(), 0), std::logic_error);
    CHECK(g.hex_digest() == hex);  // the refused update left the result alone
}

TEST_CASE("sha256: the SHA-NI block function (where the CPU has it) equals the portable loop") {
#ifdef XLENS_SHA256_X86
    MESSAGE("SHA-NI on this CPU: " << (xlens::io::detail::cpu_has_sha_ni() ? "yes, compared with the portable loop" : "no, both paths are the portable loop"));
#endif
    std::vector<std::uint8_t> data(70000);
    std::uint32_t x = 12345;
    for (auto& b : data) b = static_cast<std::uint8_t>((x = x * 1103515245u + 12345u) >> 24);
    for (std::size_t n = 0; n < 1500; n += 13)
        for (std::size_t offset : {0, 1, 5}) {
            CAPTURE(n);
            CAPTURE(offset);
            CHECK(xlens::io::sha256().update(data.data() + offset, n).hex_digest() ==
                  xlens::io::sha256().portable().update(data.data() + offset, n).hex_digest());
        }
    CHECK(xlens::io::sha256().update(data.data(), data.size()).hex_digest() ==
          xlens::io::sha256().portable().update(data.data(), data.size()).hex_digest());
}
