// xlens/analysis/logit_lens.hpp — reading the residual stream as if it were the last layer's.
//
//   activation logits = xlens::logit_lens(model, resid);   // resid [N, d_model] → [N, d_vocab]
//
// The logit lens (nostalgebraist, 2020) decodes an intermediate residual stream with the model's own
// final norm and unembedding. Each row is normalised afresh, as TransformerLens's apply_ln_to_stack
// does with recompute_ln=True (its default, recompute_ln=False, divides every layer by the final
// layer's cached scale instead). Applied to the last layer's hook_resid_post it gives exactly the
// model's logits.
#pragma once

#include "xlens/blocks/norm.hpp"
#include "xlens/blocks/unembed.hpp"
#include "xlens/error.hpp"
#include "xlens/model/model.hpp"

namespace xlens {

/// Logits [N, d_vocab] of residual-stream rows `resid` [N, d_model]: final norm, then unembedding.
/// Throws input_error 530 if `resid` is not [N, d_model].
inline activation logit_lens(const model& m, const activation& resid) {
    const auto& c = m.config();
    if (resid.dimension() != 2 || resid.shape()[1] != c.d_model)
        throw input_error(530, "logit_lens expects residual rows [N, " + std::to_string(c.d_model) + "]");
    hook_context nobody;  // the lens is not a run: no hook fires
    activation x = blocks::norm(resid, m.weights().ln_final, c.norm, nobody,
                                {{hook_kind::ln_final_scale, -1}, {hook_kind::ln_final_normalized, -1}});
    return blocks::unembed(x, m.weights().unembed);
}

}  // namespace xlens
