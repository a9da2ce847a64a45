// xlens/io/tensor_view.hpp — typed, zero-copy xtensor views over a tensor_ref's mapped bytes.
//
// A view is an xt::xtensor_adaptor over a non-owning buffer: no byte is copied and nothing is
// freed when the view dies. The reader that produced the tensor_ref (and its mapping) must outlive
// every view. Views are read-only: the mapping is PROT_READ, so the element type is const.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>

#include <xtensor/xadapt.hpp>
#include <xtensor/xbuffer_adaptor.hpp>
#include <xtensor/xtensor.hpp>

#include "xlens/error.hpp"
#include "xlens/io/tensor_ref.hpp"

namespace xlens::io {

/// Read-only N-dimensional row-major view of mapped memory, exactly the type xt::adapt returns for
/// a `const T*`. The allocator argument is spelled out because xbuffer_adaptor's default would be
/// std::allocator<const T>, which is not the type xt::adapt produces (and is ill-formed in C++20).
template <class T, std::size_t N>
using tensor_view = xt::xtensor_adaptor<xt::xbuffer_adaptor<const T*, xt::no_ownership, std::allocator<T>>, N>;

namespace detail {

template <class>
inline constexpr bool always_false = false;

/// Whether the bytes of a tensor of type `t` may be read as values of T. F16/BF16 have no C++
/// type, so they are exposed as their raw uint16_t bits (convert with f16_to_f32 / bf16_to_f32);
/// BOOL is one byte per value, 0 or 1, and is read as uint8_t so a stray byte cannot be an invalid bool.
template <class T>
constexpr bool view_accepts(dtype t) {
    if constexpr (std::is_same_v<T, float>) return t == dtype::f32;
    else if constexpr (std::is_same_v<T, double>) return t == dtype::f64;
    else if constexpr (std::is_same_v<T, std::int64_t>) return t == dtype::i64;
    else if constexpr (std::is_same_v<T, std::int32_t>) return t == dtype::i32;
    else if constexpr (std::is_same_v<T, std::int16_t>) return t == dtype::i16;
    else if constexpr (std::is_same_v<T, std::int8_t>) return t == dtype::i8;
    else if constexpr (std::is_same_v<T, std::uint16_t>) return t == dtype::f16 || t == dtype::bf16;
    else if constexpr (std::is_same_v<T, std::uint8_t>) return t == dtype::u8 || t == dtype::boolean;
    else static_assert(always_false<T>, "tensor views support float, double, int64_t, int32_t, int16_t, int8_t, "
                                        "uint16_t (raw F16/BF16 bits) and uint8_t (U8/BOOL)");
}

/// How an error message names the dtypes a view<T> accepts.
template <class T>
constexpr const char* view_type_name() {
    if constexpr (std::is_same_v<T, float>) return "float (F32)";
    else if constexpr (std::is_same_v<T, double>) return "double (F64)";
    else if constexpr (std::is_same_v<T, std::int64_t>) return "int64_t (I64)";
    else if constexpr (std::is_same_v<T, std::int32_t>) return "int32_t (I32)";
    else if constexpr (std::is_same_v<T, std::int16_t>) return "int16_t (I16)";
    else if constexpr (std::is_same_v<T, std::int8_t>) return "int8_t (I8)";
    else if constexpr (std::is_same_v<T, std::uint16_t>) return "uint16_t (F16/BF16 bits)";
    else return "uint8_t (U8/BOOL)";
}

}  // namespace detail

/// Zero-copy view of `t` as an N-dimensional array of T.
/// Throws weights_error 410 (T does not match the dtype), 411 (N is not the tensor's rank),
/// 412 (data not aligned for T, e.g. an F32 tensor placed after an odd-length U8 one).
template <class T, std::size_t N>
tensor_view<T, N> view(const tensor_ref& t) {
    if (!detail::view_accepts<T>(t.type))
        throw weights_error(410, t.where() + ": cannot view as " + detail::view_type_name<T>() + ", its dtype is " +
                                     dtype_name(t.type));
    if (t.shape.size() != N)
        throw weights_error(411, t.where() + ": cannot view as rank " + std::to_string(N) + ", its rank is " +
                                     std::to_string(t.shape.size()));
    if (reinterpret_cast<std::uintptr_t>(t.data) % alignof(T) != 0)
        throw weights_error(412, t.where() + ": data is not aligned to " + std::to_string(alignof(T)) +
                                     " bytes, so it cannot be viewed as " + detail::view_type_name<T>() +
                                     " in place; convert it to a copy instead");
    std::array<std::size_t, N> shape{};
    for (std::size_t i = 0; i < N; ++i) shape[i] = static_cast<std::size_t>(t.shape[i]);
    // Readers guarantee nbytes == elements * sizeof(T) for a plain dtype; re-check, it is cheap.
    if (t.nbytes != t.elements() * sizeof(T))
        throw weights_error(413, t.where() + ": byte size " + std::to_string(t.nbytes) + " does not match " +
                                     std::to_string(t.elements()) + " values of " + detail::view_type_name<T>());
    return xt::adapt(reinterpret_cast<const T*>(t.data), shape);
}

}  // namespace xlens::io
