// xlens/analysis/ov_circuits.hpp — what each head's OV circuit does to tokens, read from the weights.
//
//   auto scores = xlens::ov_copying_scores(model);   // one per head, in [-1, 1]
//
// A head's full OV circuit maps the token it attends to onto output logits: the [vocab, vocab] matrix
// U' Γ W_O,h W_V,h E'ᵀ (E' the token embeddings through the layer's input norm gain, if it has one;
// Γ the gain of the norm on the attention output, for post-norm models; U' the unembedding through
// the final norm's gain, centred for LayerNorm models). An embedding scale (Gemma) scales every
// eigenvalue alike and so drops out of the score. Its copying score is Σ Re λ / Σ |λ|
// over the matrix's eigenvalues (Elhage et al., 2021): near 1 when attending to a token raises that
// token's logit, near −1 when it lowers it. The norms' per-token scales and every bias are left out,
// as in that paper. The non-zero eigenvalues of the product equal those of the [d_head, d_head]
// matrix W_V,h (E'ᵀ U') W_O,h, so the vocabulary is read once, not once per head.
#pragma once

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstddef>
#include <vector>

#include <xtensor-blas/xblas.hpp>
#include <xtensor-blas/xlinalg.hpp>
#include <xtensor/xtensor.hpp>

#include "xlens/model/model.hpp"

namespace xlens {

struct head_copying_score {
    std::size_t layer = 0, head = 0;
    double score = 0;  // Σ Re λ / Σ |λ|; 0 for a head whose circuit is zero
};

/// Every head's OV copying score, layer by layer.
inline std::vector<head_copying_score> ov_copying_scores(const model& m);

// ==== implementation ==============================================================================

inline std::vector<head_copying_score> ov_copying_scores(const model& m) {
    const auto& c = m.config();
    const auto& w = m.weights();
    const std::size_t d = c.d_model, V = c.d_vocab, H = c.attn.n_heads, dh = c.attn.d_head;
    const std::size_t group = H / c.attn.n_kv_heads;
    const bool centre = c.norm.kind == norm_kind::layer_norm;
    auto centred = [&](float* row) {
        if (!centre) return;
        double mean = 0;
        for (std::size_t j = 0; j < d; ++j) mean += row[j];
        mean /= static_cast<double>(d);
        for (std::size_t j = 0; j < d; ++j) row[j] = static_cast<float>(row[j] - mean);
    };
    // K = U'ᵀ E'' [d, d], accumulated over vocabulary blocks so neither [V, d] copy is ever whole.
    std::vector<float> K(d * d, 0.0f);
    const std::size_t block = 4096;
    std::vector<float> U(block * d), E(block * d);
    for (std::size_t t0 = 0; t0 < V; t0 += block) {
        const std::size_t n = std::min(block, V - t0);
        w.embed.read_rows(t0, n, E.data());  // copied, or dequantised from the stored type
        for (std::size_t i = 0; i < n; ++i) {
            w.unembed.read_output_row(t0 + i, &U[i * d]);
            for (std::size_t j = 0; j < d; ++j) U[i * d + j] *= w.ln_final.w.data[j];
            centred(&U[i * d]);
            centred(&E[i * d]);
        }
        using index = xt::blas_index_t;
        cxxblas::gemm<index>(cxxblas::RowMajor, cxxblas::Trans, cxxblas::NoTrans, static_cast<index>(d), static_cast<index>(d),
                             static_cast<index>(n), 1.0f, U.data(), static_cast<index>(d), E.data(), static_cast<index>(d), 1.0f,
                             K.data(), static_cast<index>(d));
    }
    std::vector<head_copying_score> out;
    xt::xtensor<double, 2> Gt({d, d}), Wv({dh, d}), Wo({d, dh});
    for (std::size_t L = 0; L < c.n_layers; ++L) {
        const auto& lw = w.layers[L];
        for (std::size_t i = 0; i < d; ++i)  // Gᵀ with G = K diag(γ₁): the layer's input norm gain on the embedding side
            for (std::size_t j = 0; j < d; ++j)
                Gt(j, i) = static_cast<double>(K[i * d + j]) * (lw.ln1.w.empty() ? 1.0f : lw.ln1.w.data[j]);
        const auto& v = lw.attn.v;
        const auto& o = lw.attn.o;
        const float32_values v_values(v.w), o_values(o.w);  // one layer dequantised at a time
        const float* vw = v_values.data();
        const float* ow = o_values.data();
        for (std::size_t h = 0; h < H; ++h) {
            const std::size_t g = h / group;
            for (std::size_t r = 0; r < dh; ++r)
                for (std::size_t j = 0; j < d; ++j) {
                    Wv(r, j) = v.in_by_out ? vw[j * v.w.shape[1] + g * dh + r] : vw[(g * dh + r) * d + j];
                    Wo(j, r) = o.in_by_out ? ow[(h * dh + r) * d + j] : ow[j * o.w.shape[1] + h * dh + r];
                    if (!lw.ln1_post.w.empty()) Wo(j, r) *= lw.ln1_post.w.data[j];
                }
            const xt::xtensor<double, 2> M = xt::linalg::dot(Wv, xt::linalg::dot(Gt, Wo));
            const auto lambda = xt::linalg::eigvals(M);
            double re = 0, abs = 0;
            for (const auto& l : lambda) {
                re += l.real();
                abs += std::abs(l);
            }
            out.push_back({L, h, abs > 0 ? re / abs : 0.0});
        }
    }
    return out;
}

}  // namespace xlens
