// xlens/token_id.hpp — the integer type of a token id, shared by the tokenizer and the forward pass.
#pragma once

#include <cstdint>

namespace xlens {

/// Index of a token in a model's vocabulary.
using token_id = std::int32_t;

}  // namespace xlens
