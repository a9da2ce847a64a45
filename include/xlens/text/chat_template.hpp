// xlens/text/chat_template.hpp — turning a conversation into the prompt text a chat model expects.
//
//   std::string prompt = xlens::apply_chat_template(tok, {{"user", "What is the capital of France?"}});
//   // SmolLM2: "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging
//   //           Face<|im_end|>\n<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"
//
// xlens does not embed a Jinja interpreter. It recognises the ChatML family of templates (SmolLM2,
// Qwen2 and others: turns framed by <|im_start|>ROLE\n ... <|im_end|>\n) and renders that framing
// itself, with the default system message the template inserts when the conversation has none.
// A template without ChatML markers is refused with config_error 315. Features beyond the framing
// (tool definitions, reasoning blocks) are not interpreted.
#pragma once

#include <string>
#include <vector>

#include "xlens/error.hpp"
#include "xlens/text/tokenizer.hpp"

namespace xlens {

struct chat_message {
    std::string role;     // "system", "user", "assistant"
    std::string content;
};

namespace detail {

/// The system message a ChatML template adds when the conversation does not start with one: the
/// first literal '<|im_start|>system\n...<|im_end|>' in the template whose text is plain (no quote,
/// no Jinja), with the escape \n undone; "" if there is none. (Qwen2.5's template first opens
/// a system turn in its tools branch, whose text is Jinja; its default message comes later.)
inline std::string chatml_default_system(const std::string& tmpl) {
    const std::string open = "<|im_start|>system", close = "<|im_end|>";
    for (auto at = tmpl.find(open); at != std::string::npos; at = tmpl.find(open, at + 1)) {
        std::size_t body = at + open.size();
        // Inside the Jinja string literal the newline may be a real one or the escape "\n".
        if (tmpl.compare(body, 1, "\n") == 0) body += 1;
        else if (tmpl.compare(body, 2, "\\n") == 0) body += 2;
        else continue;
        auto end = tmpl.find(close, body);
        if (end == std::string::npos) return "";
        std::string text = tmpl.substr(body, end - body);
        if (text.find_first_of("'\"{}") != std::string::npos) continue;  // Jinja, not a literal
        for (std::size_t i = 0; (i = text.find("\\n", i)) != std::string::npos;) text.replace(i, 2, "\n");
        return text;
    }
    return "";
}

}  // namespace detail

/// The prompt text for `messages` under `tok`'s chat template, ending with the assistant's turn
/// opened when `add_generation_prompt`. Throws config_error 315 if the tokenizer has no template
/// or one xlens cannot render, input_error 516 if `messages` is empty.
inline std::string apply_chat_template(const tokenizer& tok, const std::vector<chat_message>& messages,
                                       bool add_generation_prompt = true) {
    const std::string& tmpl = tok.chat_template();
    if (tmpl.empty()) throw config_error(315, tok.source() + " has no chat template");
    if (tmpl.find("<|im_start|>") == std::string::npos || tmpl.find("<|im_end|>") == std::string::npos)
        throw config_error(315, tok.source() + ": its chat template is not ChatML; xlens renders ChatML templates only");
    if (messages.empty()) throw input_error(516, "a chat needs at least one message");
    std::string out;
    const std::string system = detail::chatml_default_system(tmpl);
    if (!system.empty() && messages.front().role != "system")
        out += "<|im_start|>system\n" + system + "<|im_end|>\n";
    for (const auto& m : messages) out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
    if (add_generation_prompt) out += "<|im_start|>assistant\n";
    return out;
}

}  // namespace xlens
