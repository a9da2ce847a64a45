// Tests for the SVG figures (xlens/report/svg.hpp, lens_svg.hpp, attribution_svg.hpp,
// patching_svg.hpp): built from real results on a tiny model, each is a well-formed XML document with
// one cell or bar per value, escapes token text, and writes no NaN or infinity even when the values
// are NaN or all zero. That figures render is checked in headless Chromium by
// tools/reference/check_figures.py (ctest: report_svg_chromium). The attention-head roles page
// (heads_html.hpp) is tested here too: its data cannot break out of its <script> element and
// round-trips; tools/reference/check_heads_report.py checks that it renders.
#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <xlens/analysis/activation_patching.hpp>
#include <xlens/analysis/direct_logit_attribution.hpp>
#include <xlens/analysis/logit_lens.hpp>
#include <xlens/model/model.hpp>
#include <xlens/report/attribution_svg.hpp>
#include <xlens/report/heads_html.hpp>
#include <xlens/report/lens_svg.hpp>
#include <xlens/report/patching_svg.hpp>
#include <xlens/report/svg.hpp>

#include "tiny_model.hpp"
#include "helpers.hpp"

namespace {

const double not_a_number = std::numeric_limits<double>::quiet_NaN();

std::vector<xlens::token_id> prompt() { return {3, 17, 5, 40, 22, 9, 31, 2}; }

/// Token texts with everything XML and the display must handle: markup, quotes, an entity,
/// whitespace, a control character and a byte that is not UTF-8.
std::vector<std::string> tricky_texts() {
    return {"<b>", " &amp;", "\"q\"", "'s", "\n", "a\x01z", "caf\xE9", " ok"};
}


/// The first way `svg` is not well-formed XML, or "" — a small check; the Python script parses the
/// files with a real XML parser. Tags nest and close, attribute quotes pair up and enclose no '<',
/// '&' starts an entity, and no control character other than tab and newline appears.
std::string xml_problem(const std::string& svg) {
    if (svg.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg ", 0) != 0) return "no XML declaration and <svg>";
    std::vector<std::string> open;
    for (std::size_t i = 0; i < svg.size(); ++i) {
        const char c = svg[i];
        const std::string at = " at byte " + std::to_string(i);
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') return "a control character" + at;
        if (c == '&') {
            const std::size_t end = svg.find(';', i);
            const std::string entity = svg.substr(i + 1, end == std::string::npos ? 8 : end - i - 1);
            const bool numeric = entity.size() > 1 && entity[0] == '#' &&
                                 std::all_of(entity.begin() + 1, entity.end(), [](unsigned char d) { return std::isdigit(d); });
            if (!numeric && entity != "lt" && entity != "gt" && entity != "amp" && entity != "quot") return "&" + entity + at;
        }
        if (c != '<') continue;
        const std::size_t end = svg.find('>', i);
        if (end == std::string::npos) return "an unclosed tag" + at;
        const std::string tag = svg.substr(i + 1, end - i - 1);
        i = end;
        if (tag.empty()) return "<>" + at;
        if (tag.front() == '?') continue;
        if (tag.find('<') != std::string::npos || test::count(tag, "\"") % 2 != 0) return "<" + tag + ">" + at;
        if (tag.front() == '/') {
            if (open.empty() || open.back() != tag.substr(1)) return "<" + tag + "> closes " + (open.empty() ? "nothing" : open.back()) + at;
            open.pop_back();
        } else if (tag.back() != '/') {
            open.push_back(tag.substr(0, tag.find_first_of(" \n")));
        }
    }
    return open.empty() ? "" : "<" + open.back() + "> is never closed";
}

void check_well_formed(const std::string& svg) { CHECK(xml_problem(svg) == ""); }

/// No "nan" or "inf" anywhere (the figures' own words avoid both), so no NaN coordinate or colour.
void check_finite(const std::string& svg) {
    std::string lower = svg;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    CHECK(lower.find("nan") == std::string::npos);
    CHECK(lower.find("inf") == std::string::npos);
}

void check_escaped(const std::string& svg) {
    CHECK(svg.find("<b>") == std::string::npos);
    CHECK(svg.find("&lt;b&gt;") != std::string::npos);
    CHECK(svg.find("&amp;amp;") != std::string::npos);
    CHECK(svg.find("&quot;q&quot;") != std::string::npos);
    CHECK(svg.find("&#39;s") != std::string::npos);
    CHECK(svg.find("a\\x01z") != std::string::npos);            // a control character in ASCII
    CHECK(svg.find("caf\xEF\xBF\xBD") != std::string::npos);    // the bad byte as U+FFFD
    CHECK(svg.find("\xE2\x86\xB5") != std::string::npos);       // '\n' as '↵'
}

}  // namespace

TEST_CASE("svg helpers: escaping, token display, clipping, numbers and colours") {
    using namespace xlens::svg;
    CHECK(escape("<a href=\"x\">'&'</a>") == "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    CHECK(escape(std::string("\x00\x1f\t", 3)) == "\\x00\\x1f&#9;");
    CHECK(escape("\xEF\xBF\xBE \xC3") == "\xEF\xBF\xBD \xEF\xBF\xBD");  // U+FFFE, a truncated sequence
    CHECK(token_display(" Paris\n\t") == "␣Paris↵→");
    CHECK(token_display("\r\x7f\xC2\x85") == "\\x0d\\x7f\\x85");
    CHECK(token_display(" Paris", false) == " Paris");
    CHECK(token_display("") == "∅");
    CHECK(token_label("", 17) == "#17");  // no tokenizer: by id
    CHECK(token_quoted(" Paris\n", 17) == "\" Paris↵\"");
    CHECK(clip("abcdefgh", 5) == "abcd…");
    CHECK(clip("abc", 3) == "abc");
    CHECK(clip("東京タワー", 5) == "東京…");
    CHECK(number(0.52349) == "0.523");
    CHECK(number(not_a_number) == "n/a");
    CHECK(number(-0.0) == "0");
    CHECK(px(12.345) == "12.3");
    CHECK(px(-0.04) == "0");
    CHECK(px(-2.5) == "-2.5");
    CHECK(px(not_a_number) == "0");
    CHECK(hex(sequential(0)) == "#ffffff");
    CHECK(hex(diverging(0, 3)) == "#ffffff");
    CHECK(hex(diverging(5, 3)) == hex(diverging(3, 3)));  // clamped
    CHECK(hex(diverging(-1, 0)) == hex(diverging(-1, 1)));  // a zero scale counts as 1
    CHECK(hex(diverging(not_a_number, 1)) == hex(missing_colour));
    CHECK(std::string(ink_on(sequential(1))) == "#ffffff");
    CHECK(std::string(ink_on(sequential(0))) == "#1d2330");
    const std::string head = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg x=\"1\">";  // the test's own checker
    CHECK(xml_problem(head + "<g><title>a &amp; b</title></g></svg>") == "");
    CHECK(xml_problem(head + "<g></svg>") != "");
    CHECK(xml_problem(head + "<text>a & b</text></svg>") != "");
    CHECK(xml_problem(head + "<g a=\"<\"/></svg>") != "");
}

TEST_CASE("figures of empty results are still complete documents") {
    for (const std::string& svg : {xlens::lens_svg(xlens::lens_result{}), xlens::attribution_svg(xlens::attribution_result{}),
                                   xlens::patching_svg(xlens::patching_result{})}) {
        check_well_formed(svg);
        check_finite(svg);
        CHECK(test::count(svg, "class=\"cell\"") + test::count(svg, "class=\"bar") == 0);
    }
}

TEST_CASE("figures from real results: one cell or bar per value, escaped token text, finite numbers") {
    auto m = xlens::model::load(test::tiny_model("gpt2"));
    const auto& c = m.config();
    const auto tokens = prompt();
    const std::size_t L = c.n_layers, H = c.attn.n_heads, T = tokens.size();

    SUBCASE("logit lens with a target") {
        xlens::lens_options o;
        o.target = 7;
        auto r = xlens::logit_lens(m, tokens, o);
        r.token_texts = tricky_texts();
        r.top[1][2][0].text = "<b>";  // a top-1 token text too
        const std::string svg = xlens::lens_svg(r);
        check_well_formed(svg);
        check_finite(svg);
        check_escaped(svg);
        CHECK(test::count(svg, "<rect class=\"cell\"") == (L + 1) * T);
        CHECK(test::count(svg, "<title>") == (L + 1) * T + 1);  // one tooltip per cell, and the document's
        CHECK(test::count(svg, "class=\"small rank\"") == (L + 1) * T);
        CHECK(svg.find("Logit lens, target #7") != std::string::npos);

        for (auto& row : r.top)  // NaN probabilities: grey cells, "n/a" in the tooltips
            for (auto& cell : row) cell[0].prob = not_a_number;
        r.target_cells[0][0].prob = not_a_number;
        const std::string broken = xlens::lens_svg(r);
        check_well_formed(broken);
        check_finite(broken);
        CHECK(test::count(broken, "fill=\"#c8c8c8\"") == (L + 1) * T);
    }

    SUBCASE("direct logit attribution with a versus token") {
        xlens::attribution_options o;
        o.target = 11;
        o.versus = 29;
        o.position = 4;
        auto r = xlens::direct_logit_attribution(m, tokens, o);
        const std::size_t n = r.components.size();
        REQUIRE(n > 6);
        const std::string svg = xlens::attribution_svg(r, 6, tricky_texts(), "<b>", " &amp;");
        check_well_formed(svg);
        check_finite(svg);
        CHECK(test::count(svg, "<rect class=\"bar\"") == 6);
        CHECK(test::count(svg, "<rect class=\"bar other\"") == 1);
        CHECK(svg.find("logit(&quot;&lt;b&gt;&quot;) − logit(&quot; &amp;amp;&quot;) at position 4 (&quot;↵&quot;)") !=
              std::string::npos);
        CHECK(svg.find("sum of all " + std::to_string(n) + " components = ") != std::string::npos);
        CHECK(test::count(xlens::attribution_svg(r, n), "<rect class=\"bar") == n);  // all shown: no "other" bar

        for (auto& part : r.components) part.value = 0;  // nothing to scale
        r.total = r.model_value = 0;
        std::string zero = xlens::attribution_svg(r);
        check_well_formed(zero);
        check_finite(zero);
        for (auto& part : r.components) part.value = not_a_number;
        r.total = r.model_value = not_a_number;
        r.components[0].value = std::numeric_limits<double>::infinity();
        std::string broken = xlens::attribution_svg(r, 3, {}, "", "");
        check_well_formed(broken);
        check_finite(broken);
        CHECK(test::count(broken, "<rect class=\"bar") == 4);
    }

    SUBCASE("activation patching by layer and position, and by head and position") {
        std::vector<xlens::token_id> corrupted = tokens;
        corrupted[4] = 44;
        xlens::patching_options o;
        o.answer = 11;
        o.wrong = 29;
        o.threads = 1;
        auto r = xlens::activation_patching(m, tokens, corrupted, o);
        std::string svg = xlens::patching_svg(r, tricky_texts());
        check_well_formed(svg);
        check_finite(svg);
        check_escaped(svg);
        CHECK(test::count(svg, "<rect class=\"cell\"") == L * T);
        CHECK(svg.find("Activation patching: resid_pre, denoising") != std::string::npos);
        CHECK(test::count(svg, "(prompts differ: clean #22, corrupted #44)") == L);

        o.target = xlens::patch_target::head_by_position;
        auto heads = xlens::activation_patching(m, tokens, corrupted, o);
        svg = xlens::patching_svg(heads, tricky_texts());
        check_well_formed(svg);
        check_finite(svg);
        CHECK(test::count(svg, "<rect class=\"cell\"") == L * H * T);
        CHECK(svg.find(">L1H2</text>") != std::string::npos);

        o.layers = {1};  // some layers and heads: rows named by the ones patched
        o.heads = {0, 2};
        auto some = xlens::activation_patching(m, tokens, corrupted, o);
        svg = xlens::patching_svg(some, tricky_texts());
        check_well_formed(svg);
        CHECK(test::count(svg, "<rect class=\"cell\"") == 2 * T);
        CHECK(test::count(svg, ">L1H0</text>") + test::count(svg, ">L1H2</text>") == 2);
        CHECK(svg.find(">L0H0</text>") == std::string::npos);
        o.layers.clear();
        o.heads.clear();

        o.target = xlens::patch_target::head;
        auto by_head = xlens::activation_patching(m, tokens, corrupted, o);
        svg = xlens::patching_svg(by_head);
        check_well_formed(svg);
        CHECK(test::count(svg, "<rect class=\"cell\"") == L * H);

        r.values.fill(0);  // all zero: the scale still ends at 1
        svg = xlens::patching_svg(r, {"too", "few"});
        check_well_formed(svg);
        check_finite(svg);
        CHECK(svg.find("#22") != std::string::npos);  // labels fall back to token ids
        r.values.fill(not_a_number);
        r.normalised = false;
        r.clean_metric = not_a_number;
        svg = xlens::patching_svg(r);
        check_well_formed(svg);
        check_finite(svg);
        CHECK(test::count(svg, "fill=\"#c8c8c8\"") == L * T);
    }
}

// ---- the attention-head roles page (xlens/report/heads_html.hpp) ----------------------------------------

namespace {

/// A hand-made `xlens heads` report: 2 layers x 2 heads, and a 4-token example whose token texts
/// would end or open elements if they were not escaped.
nlohmann::json small_heads_report() {
    using json = nlohmann::json;
    const char* roles[] = {"previous_token", "induction", "first_token", "diffuse"};
    const char* features[] = {"previous_token", "duplicate_token", "induction", "first_token",
                              "self",           "local",           "mean_distance", "entropy"};
    json report = {{"schema", "xlens.heads/1"}, {"model", "/models/<tiny> & co.gguf"}, {"method", "kmeans"},
                   {"threshold", 0.4},          {"layers", 2},  {"heads", 2},  {"k", 3},  {"silhouette", 0.52},
                   {"inertia", 3.25},           {"sequences", {{1, 5, 6, 1, 5, 6}}},  {"induction_rows", 0.5},
                   {"text", nullptr},           {"profile_labels", {"-1", "-2", "-3", "-4", "0", ">4", "first"}}};
    for (int i = 0; i < 4; ++i) {
        json scores;
        for (int f = 0; f < 8; ++f) scores[features[f]] = 0.125 * ((i + f) % 8) + 0.001;
        scores["induction_attainable"] = 0.25 * i;
        report["roles"].push_back({{"layer", i / 2}, {"head", i % 2}, {"cluster", i % 3}, {"role", roles[i]},
                                   {"cluster_name", std::string(roles[i]) + "+local"}, {"scores", scores}});
        report["pca"].push_back({0.5 * i - 1, i % 2 ? -0.75 : 0.25});
    }
    for (int f = 0; f < 8; ++f) report["scores"][features[f]] = {{0.1 * f, 0.2}, {0.3, 0.4}};
    json patterns = json::array();
    for (int l = 0; l < 2; ++l) {
        json heads = json::array();
        for (int h = 0; h < 2; ++h) {
            json rows = json::array();
            for (int q = 0; q < 4; ++q) rows.push_back(std::vector<double>(q + 1, 1.0 / (q + 1)));
            heads.push_back(rows);
        }
        patterns.push_back(heads);
    }
    report["example"] = {{"tokens", {1, 5, 6, 7}}, {"token_texts", {"<s>", "</script>", "<b>&", " x\n<!--"}},
                         {"patterns", patterns}};
    return report;
}

}  // namespace

TEST_CASE("heads_html: token text cannot end the data element, the report round-trips, the checker's hooks exist") {
    const nlohmann::json report = small_heads_report();
    const std::string page = xlens::heads_html(report);
    CHECK(page.rfind("<!DOCTYPE html>", 0) == 0);
    CHECK(page.find("</html>") != std::string::npos);

    // The page's own three script elements (error handler, data, program); the token texts add none.
    CHECK(test::count(page, "<script") == 3);
    CHECK(test::count(page, "</script") == 3);
    CHECK(test::count(page, "<b>") == 0);
    CHECK(test::count(page, "<!--") == 0);

    // The embedded JSON: from its opening tag to the next "</script>"; no '<', '>' or '&' inside, and
    // it parses back to the report exactly.
    const std::string open = R"(<script type="application/json" id="heads-data">)";
    REQUIRE(test::count(page, open) == 1);
    const std::size_t begin = page.find(open) + open.size();
    const std::size_t end = page.find("</script>", begin);
    REQUIRE(end != std::string::npos);
    const std::string data = page.substr(begin, end - begin);
    CHECK(data.find_first_of("<>&") == std::string::npos);
    CHECK(nlohmann::json::parse(data) == report);

    // What tools/reference/check_heads_report.py looks for, and nothing fetched from anywhere.
    for (const char* hook : {"id=\"script-errors\"", "window.onerror", "document.body.dataset.rendered = 'yes'",
                             "id=\"selected-head\"", "id=\"head-map\"", "id=\"pattern\"", "id=\"pattern-note\"",
                             "id=\"scatter\"", "id=\"roles-table\"", "'head-cell '", "'role-row'", "'head-point'",
                             "'pattern-cell'", "#head=", "textContent"}) {
        CAPTURE(hook);
        CHECK(page.find(hook) != std::string::npos);
    }
    for (const char* remote : {"http://", "https://", "src=", "href=", "url(", "@import", "fetch(", "XMLHttpRequest", "innerHTML"}) {
        CAPTURE(remote);
        CHECK(page.find(remote) == std::string::npos);
    }
}
