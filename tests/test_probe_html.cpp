// Tests for xlens/report/probe_html.hpp: the embedded probe data cannot break out of its <script>
// element, round-trips exactly, and the page references nothing outside itself. That the page renders
// is checked in headless Chromium by tools/reference/check_html_report.py.
#include <doctest/doctest.h>

#include <cstddef>
#include <string>

#include <nlohmann/json.hpp>

#include "xlens/report/probe_html.hpp"
#include "helpers.hpp"

namespace {

using nlohmann::json;

const std::string data_open = R"(<script type="application/json" id="probe-data">)";

/// A small but complete probe (2 layers, 2 heads, top_k 2) whose second token has the text `tricky`.
json small_probe(const std::string& tricky) {
    auto candidates = [&](double p) {
        return json::array({{{"id", 9}, {"text", tricky}, {"prob", p}}, {{"id", 3}, {"text", " in"}, {"prob", 0.1}}});
    };
    auto step = [&](int pos, const std::string& source, int id, const std::string& text, const json& chosen,
                    const json& rule) {
        json head = json::array({{{"pos", 0}, {"weight", 0.75}}, {{"pos", pos}, {"weight", 0.25}}});
        json next = {{"candidates", candidates(0.5)}, {"chosen", chosen}, {"rule", rule}};
        next["candidates"][0]["logit"] = 12.5;
        return json{{"position", pos}, {"source", source}, {"token", {{"id", id}, {"text", text}}},
                    {"resid_norm", {1.0, 2.5, 4.0}}, {"lens", {candidates(0.2), candidates(0.4)}},
                    {"attention", {{head, head}, {head, head}}}, {"next", next}};
    };
    return json{{"xlens_probe", 1}, {"model", "/models/tiny.gguf"}, {"architecture", "llama"},
                {"n_layers", 2}, {"n_heads", 2}, {"d_vocab", 16}, {"prompt", "The" + tricky},
                {"top_k", 2}, {"sampling", {{"rule", "argmax"}}},
                {"steps", {step(0, "prompt", 1, "The", {{"id", 9}, {"text", tricky}, {"prob", 0.5}, {"rank", 1}}, "prompt"),
                           step(1, "generated", 9, tricky, nullptr, nullptr)}}};
}


/// The text of the probe-data element: from its opening tag to the first "</script>" after it.
std::string embedded_data(const std::string& page) {
    REQUIRE(test::count(page, data_open) == 1);
    const std::size_t begin = page.find(data_open) + data_open.size();
    const std::size_t end = page.find("</script>", begin);
    REQUIRE(end != std::string::npos);
    return page.substr(begin, end - begin);
}

}  // namespace

TEST_CASE("probe_html: token text cannot end the data element, and the data round-trips exactly") {
    for (const std::string tricky : {"</script><script>alert(1)</script>", "<!--", "<!-- <script>", "&amp; &lt;",
                                     " \"quoted\" 'single'", "\n\t\\u003c", "caf\xC3\xA9 \xEF\xBF\xBD", "]]></SCRIPT >"}) {
        CAPTURE(tricky);
        const json probe = small_probe(tricky);
        const std::string page = xlens::probe_html(probe);
        const std::string data = embedded_data(page);
        CHECK(data.find('<') == std::string::npos);
        CHECK(data.find('>') == std::string::npos);
        CHECK(data.find('&') == std::string::npos);
        CHECK(json::parse(data) == probe);
        // The data adds no element: the page has as many script tags as one built from harmless text.
        const std::string plain = xlens::probe_html(small_probe("Paris"));
        CHECK(test::count(page, "<script") == test::count(plain, "<script"));
        CHECK(test::count(page, "</script>") == test::count(plain, "</script>"));
    }
}

TEST_CASE("probe_html: a complete offline page with the hooks the headless check relies on") {
    const std::string page = xlens::probe_html(small_probe(" Paris"));
    CHECK(page.rfind("<!DOCTYPE html>", 0) == 0);
    CHECK(page.find("<meta charset=\"utf-8\">") != std::string::npos);
    CHECK(page.find("</html>") != std::string::npos);
    // Nothing is loaded from anywhere: no URLs, no external resources, no requests from the script.
    for (const char* remote : {"http://", "https://", "src=", "href=", "url(", "@import", "fetch(", "XMLHttpRequest",
                               "WebSocket", "import("}) {
        CAPTURE(remote);
        CHECK(page.find(remote) == std::string::npos);
    }
    // What tools/reference/check_html_report.py and users' scripts look for.
    for (const char* hook : {"id=\"script-errors\"", "window.onerror", "document.body.dataset.rendered = 'yes'",
                             "id=\"selected-step\"", "id=\"lens-table\"", "id=\"attention-grid\"", "id=\"norm-chart\"",
                             "'token '", "chip.dataset.step", "#step=", "textContent"}) {
        CAPTURE(hook);
        CHECK(page.find(hook) != std::string::npos);
    }
    CHECK(page.find("innerHTML") == std::string::npos);  // data goes in with textContent only
}

TEST_CASE("probe_html: bytes that are not UTF-8 are embedded as U+FFFD instead of throwing") {
    json probe = small_probe(" ok");
    probe["steps"][1]["token"]["text"] = std::string("a\xFF" "b");
    const json back = json::parse(embedded_data(xlens::probe_html(probe)));
    CHECK(back["steps"][1]["token"]["text"] == "a\xEF\xBF\xBD" "b");
    CHECK(back["steps"][0] == probe["steps"][0]);
}
