// xlens/blocks/unembed.hpp — from the final residual stream to logits over the vocabulary.
#pragma once

#include "xlens/blocks/hook_points.hpp"
#include "xlens/blocks/matmul.hpp"
#include "xlens/model/weights.hpp"

namespace xlens::blocks {

/// logits [T, d_vocab] = x [T, d_model] · W_Uᵀ (+ b_U).
inline activation unembed(const activation& x, const linear_weight& w) { return linear(x, w); }

}  // namespace xlens::blocks
