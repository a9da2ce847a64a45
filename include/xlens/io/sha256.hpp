// xlens/io/sha256.hpp — SHA-256 of tensor bytes and files, for the database's lossless round-trip checks.
//
// The database records a SHA-256 per tensor and per file when it imports a model, and recomputes it
// when it writes one back out: equal hashes prove the round trip was byte-identical without keeping
// a second copy of gigabytes of weights around to compare against. Written from FIPS 180-4 so the
// library keeps depending on nothing beyond the standard library. x86-64 CPUs with the SHA
// extensions hash whole blocks with them (checked at run time).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>
#define XLENS_SHA256_X86 1
#endif

namespace xlens::io {
namespace detail {

inline constexpr std::uint32_t sha256_k[64] = {  // FIPS 180-4 §4.2.2
    0x428a2f98u, 0x71374491u, 0xb5c0fbcfu, 0xe9b5dba5u, 0x3956c25bu, 0x59f111f1u, 0x923f82a4u, 0xab1c5ed5u,
    0xd807aa98u, 0x12835b01u, 0x243185beu, 0x550c7dc3u, 0x72be5d74u, 0x80deb1feu, 0x9bdc06a7u, 0xc19bf174u,
    0xe49b69c1u, 0xefbe4786u, 0x0fc19dc6u, 0x240ca1ccu, 0x2de92c6fu, 0x4a7484aau, 0x5cb0a9dcu, 0x76f988dau,
    0x983e5152u, 0xa831c66du, 0xb00327c8u, 0xbf597fc7u, 0xc6e00bf3u, 0xd5a79147u, 0x06ca6351u, 0x14292967u,
    0x27b70a85u, 0x2e1b2138u, 0x4d2c6dfcu, 0x53380d13u, 0x650a7354u, 0x766a0abbu, 0x81c2c92eu, 0x92722c85u,
    0xa2bfe8a1u, 0xa81a664bu, 0xc24b8b70u, 0xc76c51a3u, 0xd192e819u, 0xd6990624u, 0xf40e3585u, 0x106aa070u,
    0x19a4c116u, 0x1e376c08u, 0x2748774cu, 0x34b0bcb5u, 0x391c0cb3u, 0x4ed8aa4au, 0x5b9cca4fu, 0x682e6ff3u,
    0x748f82eeu, 0x78a5636fu, 0x84c87814u, 0x8cc70208u, 0x90befffau, 0xa4506cebu, 0xbef9a3f7u, 0xc67178f2u};

#ifdef XLENS_SHA256_X86
/// Whether the CPU has the SHA extensions (and the SSSE3/SSE4.1 the block function also uses).
inline bool cpu_has_sha_ni() {
    static const bool has = [] {
        unsigned a = 0, b = 0, c = 0, d = 0;
        if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
        const bool sse = (c & (1u << 9)) && (c & (1u << 19));  // SSSE3, SSE4.1
        if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
        return sse && (b & (1u << 29));  // SHA
    }();
    return has;
}

/// `blocks` 64-byte blocks with the SHA-NI instructions: every export, import and database load
/// hashes each weight twice (per tensor and per file), and this is 5-6× the portable loop's speed.
/// The instructions keep the state as ABEF / CDGH and take four message words plus constants at a time.
__attribute__((target("sha,sse4.1,ssse3"))) inline void sha256_blocks_ni(std::uint32_t h[8], const std::uint8_t* p, std::size_t blocks) {
    const __m128i byte_swap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);  // big-endian words
    __m128i tmp = _mm_shuffle_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h)), 0xB1);
    __m128i cdgh = _mm_shuffle_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h + 4)), 0x1B);
    __m128i abef = _mm_alignr_epi8(tmp, cdgh, 8);
    cdgh = _mm_blend_epi16(cdgh, tmp, 0xF0);
    for (; blocks > 0; --blocks, p += 64) {
        const __m128i abef_in = abef, cdgh_in = cdgh;
        __m128i m[4];
        for (int g = 0; g < 16; ++g) {  // four rounds per group; m holds the last four groups of W
            if (g < 4) {
                m[g] = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * g)), byte_swap);
            } else {  // W[t] = σ1(W[t-2]) + W[t-7] + σ0(W[t-15]) + W[t-16], four at a time
                const __m128i w7 = _mm_alignr_epi8(m[(g + 3) % 4], m[(g + 2) % 4], 4);
                m[g % 4] = _mm_sha256msg2_epu32(_mm_add_epi32(_mm_sha256msg1_epu32(m[g % 4], m[(g + 1) % 4]), w7), m[(g + 3) % 4]);
            }
            __m128i wk = _mm_add_epi32(m[g % 4], _mm_loadu_si128(reinterpret_cast<const __m128i*>(sha256_k + 4 * g)));
            cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);
            wk = _mm_shuffle_epi32(wk, 0x0E);
            abef = _mm_sha256rnds2_epu32(abef, cdgh, wk);
        }
        abef = _mm_add_epi32(abef, abef_in);
        cdgh = _mm_add_epi32(cdgh, cdgh_in);
    }
    tmp = _mm_shuffle_epi32(abef, 0x1B);
    cdgh = _mm_shuffle_epi32(cdgh, 0xB1);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(h), _mm_blend_epi16(tmp, cdgh, 0xF0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(h + 4), _mm_alignr_epi8(cdgh, tmp, 8));
}
#endif

}  // namespace detail

/// Incremental SHA-256 (FIPS 180-4). Feed bytes with update() in pieces of any size, then read
/// the result once with digest() or hex_digest().
class sha256 {
public:
    /// Starts a new hash with the initial values of FIPS 180-4 §5.3.3.
    sha256() : h_{0x6a09e667u, 0xbb67ae85u, 0x3c6ef372u, 0xa54ff53au, 0x510e527fu, 0x9b05688cu, 0x1f83d9abu, 0x5be0cd19u} {}

    /// Appends `n` bytes at `data` (any alignment; `data` may be null when `n` is 0).
    /// Throws std::logic_error once the digest has been taken, since the padding is already in the state.
    sha256& update(const void* data, std::size_t n) {
        if (finished_) throw std::logic_error("sha256::update called after the digest was taken");
        if (n == 0) return *this;  // memcpy from a null `data` would be undefined even for 0 bytes
        const auto* p = static_cast<const std::uint8_t*>(data);
        total_ += n;
        if (used_ > 0) {
            const std::size_t take = n < 64 - used_ ? n : 64 - used_;
            std::memcpy(buf_.data() + used_, p, take);
            used_ += take;
            p += take;
            n -= take;
            if (used_ < 64) return *this;
            compress(buf_.data());
            used_ = 0;
        }
        // Whole blocks straight from the caller's memory: hashing a multi-GB tensor should not
        // also copy it through a 64-byte buffer.
        if (n >= 64) {
            compress_blocks(p, n / 64);
            p += n / 64 * 64;
            n %= 64;
        }
        if (n > 0) std::memcpy(buf_.data(), p, n);
        used_ = n;
        return *this;
    }

    /// The 32-byte digest. The first call finalises; later calls return the same bytes.
    std::array<std::uint8_t, 32> digest() {
        if (!finished_) finish();
        return out_;
    }

    /// The digest as 64 lowercase hex characters, the form stored in the database and shown by sha256sum.
    std::string hex_digest() {
        static constexpr char hex[] = "0123456789abcdef";
        const auto d = digest();
        std::string s(64, '0');
        for (std::size_t i = 0; i < 32; ++i) {
            s[2 * i] = hex[d[i] >> 4];
            s[2 * i + 1] = hex[d[i] & 0x0f];
        }
        return s;
    }

private:
    static constexpr std::uint32_t rotr(std::uint32_t x, int r) { return (x >> r) | (x << (32 - r)); }

    // Byte-wise loads keep the message big-endian on any host and legal at any alignment;
    // compilers fuse them into one load plus a byte swap.
    static std::uint32_t load_be(const std::uint8_t* p) {
        return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | std::uint32_t{p[3]};
    }

    void compress_blocks(const std::uint8_t* p, std::size_t blocks) {
#ifdef XLENS_SHA256_X86
        if (detail::cpu_has_sha_ni() && !portable_) return detail::sha256_blocks_ni(h_.data(), p, blocks);
#endif
        for (; blocks > 0; --blocks, p += 64) compress(p);
    }

    void compress(const std::uint8_t* block) {
        std::uint32_t w[64];
        for (int t = 0; t < 16; ++t) w[t] = load_be(block + 4 * t);
        for (int t = 16; t < 64; ++t) {
            const std::uint32_t s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
            const std::uint32_t s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
            w[t] = w[t - 16] + s0 + w[t - 7] + s1;
        }
        // One round writes only d and h: the caller rotates the roles of the eight variables across
        // an unrolled group of eight instead of shifting all of them down every round (~17% faster).
        auto round = [&w](std::uint32_t a, std::uint32_t b, std::uint32_t c, std::uint32_t& d, std::uint32_t e,
                          std::uint32_t f, std::uint32_t g, std::uint32_t& h, int t) {
            const std::uint32_t t1 = h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + detail::sha256_k[t] + w[t];
            const std::uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
            d += t1;
            h = t1 + t2;
        };
        std::uint32_t a = h_[0], b = h_[1], c = h_[2], d = h_[3], e = h_[4], f = h_[5], g = h_[6], h = h_[7];
        for (int t = 0; t < 64; t += 8) {
            round(a, b, c, d, e, f, g, h, t);
            round(h, a, b, c, d, e, f, g, t + 1);
            round(g, h, a, b, c, d, e, f, t + 2);
            round(f, g, h, a, b, c, d, e, t + 3);
            round(e, f, g, h, a, b, c, d, t + 4);
            round(d, e, f, g, h, a, b, c, t + 5);
            round(c, d, e, f, g, h, a, b, t + 6);
            round(b, c, d, e, f, g, h, a, t + 7);
        }
        h_[0] += a, h_[1] += b, h_[2] += c, h_[3] += d, h_[4] += e, h_[5] += f, h_[6] += g, h_[7] += h;
    }

    // Padding (§5.1.1): a 1 bit, zeros up to 56 mod 64, then the message length in bits, big-endian.
    void finish() {
        const std::uint64_t bits = total_ * 8;  // the standard defines the length modulo 2^64
        buf_[used_++] = 0x80;
        if (used_ > 56) {
            std::memset(buf_.data() + used_, 0, 64 - used_);
            compress(buf_.data());
            used_ = 0;
        }
        std::memset(buf_.data() + used_, 0, 56 - used_);
        for (int i = 0; i < 8; ++i) buf_[56 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(bits >> (56 - 8 * i));
        compress(buf_.data());
        for (std::size_t i = 0; i < 8; ++i)
            for (std::size_t j = 0; j < 4; ++j) out_[4 * i + j] = static_cast<std::uint8_t>(h_[i] >> (24 - 8 * j));
        finished_ = true;
    }

    std::array<std::uint32_t, 8> h_;
    std::array<std::uint8_t, 64> buf_{};  // a partial block carried between update() calls
    std::size_t used_ = 0;                // bytes of buf_ in use, always < 64 between calls
    std::uint64_t total_ = 0;             // message length so far, in bytes
    std::array<std::uint8_t, 32> out_{};
    bool finished_ = false;

public:
    /// Hashes with the portable loop even where SHA-NI exists (tests compare the two).
    sha256& portable(bool on = true) {
        portable_ = on;
        return *this;
    }

private:
    bool portable_ = false;
};

/// SHA-256 of `n` bytes at `data` as 64 lowercase hex characters, for a buffer already in memory.
inline std::string sha256_hex(const void* data, std::size_t n) { return sha256().update(data, n).hex_digest(); }

}  // namespace xlens::io
