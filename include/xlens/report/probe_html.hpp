// xlens/report/probe_html.hpp — the token probe (`xlens probe --json`) as one offline HTML page.
//
// The page is self-contained: CSS and JavaScript are inline, the probe JSON is embedded in
// <script type="application/json" id="probe-data">, and nothing is fetched from the network (no
// CDN, fonts or images), so the file can be mailed, archived and opened years later.
//
// What the page shows (plain JavaScript, no framework; data is inserted with textContent only):
//   - a header with the model, the prompt and the sampling rule;
//   - the tokens as a row of clickable chips (class "token", attribute data-step), prompt and
//     generated tokens styled differently, whitespace made visible ("·" space, "↵" newline, "→" tab);
//   - for the selected step: the chosen next token (rank, probability, rule), the logit-lens ladder
//     (one row per layer, layer 0 at the bottom, the model's output on top, cells shaded by
//     probability, the chosen next token outlined), the residual-stream norm per layer (SVG bars),
//     and a layer x head attention grid whose cells name the most attended position; hovering or
//     clicking a cell lists that head's top attended positions.
// The last prompt token is selected first; the URL fragment `#step=K` selects step K (the page
// keeps it current), and the arrow keys step left and right.
//
// For automated checks (tools/reference/check_html_report.py drives headless Chromium):
// body[data-rendered="yes"] once rendering finished; script errors are written into the element
// #script-errors (empty when all went well); #selected-step holds the selected step's index.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace xlens {

/// Renders a token probe (JSON schema version 1, `"xlens_probe": 1`) as a complete HTML5 page.
///
/// @param probe  the probe document as produced by `xlens probe --json`; it is embedded unchanged
///               (strings that are not valid UTF-8 are embedded with U+FFFD in place of bad bytes).
/// @return       the page as UTF-8 text, ready to write to a .html file.
/// @exceptions   none of its own; a document that is not a probe still yields a page, which then
///               reports the problem in its red `#script-errors` box instead of rendering.
/// @complexity   linear in the size of the JSON document.
/// @usage      `write_text("probe.html", xlens::probe_html(xlens::io::read_json_file("probe.json")));`
inline std::string probe_html(const nlohmann::json& probe);

// ==== implementation ================================================================================

namespace detail {

/// The JSON text made safe inside a <script> element: '<', '>' and '&' (which JSON only has inside
/// strings) become \u003c, \u003e and \u0026, so "</script>" or "<!--" in a token cannot end or
/// confuse the element, and JSON.parse / nlohmann::json::parse give back the original strings.
inline std::string script_safe_json(const nlohmann::json& value) {
    const std::string text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    std::string out;
    out.reserve(text.size() + text.size() / 16);
    for (char c : text) {
        switch (c) {
            case '<': out += "\\u003c"; break;
            case '>': out += "\\u003e"; break;
            case '&': out += "\\u0026"; break;
            default: out += c;
        }
    }
    return out;
}

// The page around the data, in pieces below 16 KB each (MSVC's limit for one string literal).
// Everything inside is static; only the probe data varies, and the script reads it with JSON.parse.
inline const char* probe_page_head() {
    return R"xlens(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>xlens token probe</title>
<style>
:root { --ink: #1d2330; --muted: #687080; --line: #d5dae2; --prompt: #eef1f6; --gen: #ddf3e4;
        --gen-line: #8fc9a2; --select: #2554c7; --chosen: #e8590c; }
* { box-sizing: border-box; }
body { margin: 14px 14px; color: var(--ink); background: #fff; font: 13px/1.35 system-ui, "DejaVu Sans", sans-serif; }
h1 { font-size: 18px; margin: 0 0 6px; }
h2 { font-size: 15px; margin: 14px 0 6px; }
h3 { font-size: 13px; margin: 0 0 4px; }
.note { color: var(--muted); font-size: 12px; margin: 2px 0 6px; }
.mono, .tok { font-family: "DejaVu Sans Mono", ui-monospace, monospace; }
.ws { color: #98a1b3; }
#meta { display: grid; grid-template-columns: max-content 1fr; gap: 1px 10px; margin: 0; }
#meta dt { color: var(--muted); }
#meta dd { margin: 0; overflow-wrap: anywhere; }
#script-errors { color: #b00020; font-weight: bold; white-space: pre-wrap; }
#script-errors:not(:empty) { border: 2px solid #b00020; padding: 6px; margin: 8px 0; }
#tokens { display: flex; flex-wrap: wrap; align-items: flex-start; gap: 5px; }
.token { display: inline-flex; flex-direction: column; align-items: center; min-width: 28px;
         padding: 3px 7px; border: 1px solid var(--line); border-radius: 6px; background: var(--prompt);
         color: inherit; font: 14px "DejaVu Sans Mono", ui-monospace, monospace; cursor: pointer; }
.token.generated { background: var(--gen); border-color: var(--gen-line); }
.token:hover { border-color: var(--select); }
.token.selected { outline: 3px solid var(--select); outline-offset: 1px; }
.token .p { font: 11px system-ui, sans-serif; color: var(--muted); }
.legend-swatch { display: inline-block; width: 12px; height: 12px; border: 1px solid var(--line);
                 border-radius: 3px; vertical-align: -2px; margin: 0 3px 0 8px; }
#step-title { font-size: 15px; margin: 12px 0 4px; }
#next-summary { margin: 0 0 10px; }
#next-summary .tok, .chosen-text { font-weight: bold; color: var(--chosen); }
#panels { display: flex; gap: 16px; align-items: flex-start; }
#lens-panel { flex: 0 0 auto; width: min-content; }
#right-panels { flex: 1 1 auto; min-width: 0; }
table { border-collapse: collapse; font-size: 12px; }
th { font-weight: normal; color: var(--muted); text-align: right; padding: 1px 5px; white-space: nowrap; }
thead th { text-align: center; }
td.cell { width: 96px; max-width: 96px; padding: 1px 4px; border: 1px solid #fff; }
.in-cell { display: flex; justify-content: space-between; gap: 4px; white-space: nowrap; }
.in-cell .tok { min-width: 0; overflow: hidden; text-overflow: ellipsis; }
.in-cell .p { flex: none; font-size: 11px; }
td.cell.dark { color: #fff; }
td.cell .ws { color: #566074; }
td.cell.dark .ws { color: #d5def0; }
td.chosen { outline: 2px solid var(--chosen); outline-offset: -2px; font-weight: bold; }
tr.output-row th { color: var(--ink); font-weight: bold; }
tr.output-row td { border-bottom: 3px solid var(--ink); }
#attention-row { display: flex; gap: 10px; align-items: flex-start; margin-top: 10px; }
#attention-grid td.cell { width: 50px; max-width: 50px; padding: 1px 3px; cursor: pointer; font-size: 11px; }
#attention-grid .in-cell { gap: 2px; }
#attention-grid td.pinned { outline: 2px solid var(--select); outline-offset: -2px; }
#attention-detail { flex: 0 0 230px; width: 230px; overflow: hidden; }
#attention-detail table { width: 100%; table-layout: fixed; }
#attention-detail td { padding: 1px 3px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
#attention-detail td:nth-child(1) { width: 34px; }
#attention-detail td:nth-child(3) { width: 34px; }
#attention-detail td:nth-child(4) { width: 52px; text-align: right; white-space: nowrap; }
.bar { display: inline-block; height: 9px; background: #2b8a6e; vertical-align: middle; }
#norm-chart { display: block; width: 100%; max-width: 640px; height: 130px; }
#norm-chart rect { fill: #5b7fd6; }
#norm-chart rect:hover { fill: var(--chosen); }
#norm-chart text { font-size: 10px; fill: var(--muted); }
</style>
</head>
<body>
<div id="script-errors" role="alert"></div>
<script>
// Installed first, so even a failure while parsing the data below is reported on the page.
window.onerror = function (message, source, line, column) {
  document.getElementById('script-errors').textContent +=
    'Script error: ' + message + ' (line ' + line + ':' + column + ')\n';
};
</script>
<header>
<h1>xlens token probe</h1>
<dl id="meta">
  <dt>model</dt><dd id="model" class="mono"></dd>
  <dt>prompt</dt><dd id="prompt" class="mono"></dd>
  <dt>sampling</dt><dd id="sampling"></dd>
</dl>
</header>
<h2>Tokens</h2>
<p class="note">Click a token (or use the arrow keys) to inspect that step.
<span class="legend-swatch" style="background: var(--prompt)"></span>prompt
<span class="legend-swatch" style="background: var(--gen)"></span>generated, with its probability.
Whitespace shown as <span class="ws">·</span> space, <span class="ws">↵</span> newline, <span class="ws">→</span> tab.</p>
<div id="tokens"></div>
<h2 id="step-title">Step <span id="selected-step"></span>: <span id="step-token"></span></h2>
<p id="next-summary"></p>
<div id="panels">
<section id="lens-panel">
<h3>Logit lens</h3>
<p class="note">Top-<span class="top-k"></span> predictions of each layer's residual stream; layer 0 at the
bottom, the model's output on top.<br>Shaded by probability; <span class="chosen-text">outlined</span>: the token chosen next.</p>
<table id="lens-table"></table>
</section>
<section id="right-panels">
<h3>Residual stream norm</h3>
<p class="note">L2 norm at this position after the embedding (emb) and after each layer; hover a bar for its value.</p>
<svg id="norm-chart" viewBox="0 0 640 130" preserveAspectRatio="none"></svg>
<div id="attention-row">
<section>
<h3>Attention</h3>
<p class="note">Per layer (0 at the bottom) and head: the token at the most attended position and its weight. Hover or click a cell to list the head's top positions.</p>
<table id="attention-grid"></table>
</section>
<section id="attention-detail"></section>
</div>
</section>
</div>
<script type="application/json" id="probe-data">)xlens";
}

inline const char* probe_page_script() {
    return R"xlens(</script>
<script>
'use strict';
const $ = (id) => document.getElementById(id);
const probe = JSON.parse($('probe-data').textContent);
if (probe === null || typeof probe !== 'object' || probe.xlens_probe !== 1 || !Array.isArray(probe.steps))
  throw new Error('the embedded data is not an xlens token probe (schema "xlens_probe": 1)');
const steps = probe.steps;
const nLayers = probe.n_layers;
const nHeads = probe.n_heads;
const textAtPosition = new Map(steps.map((s) => [s.position, s.token.text]));
const svgNS = $('norm-chart').namespaceURI;  // an inline <svg> gets the SVG namespace from the parser
let current = -1;
let pinned = { layer: nLayers - 1, head: 0 };  // the attention head listed beside the grid

// ---- small helpers -----------------------------------------------------------------------------------
function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

const VISIBLE_WS = { ' ': '·', '\n': '↵', '\t': '→', '\r': '␍' };

/// A span showing token text with whitespace and control characters made visible, cut at maxChars.
function tokenSpan(text, maxChars) {
  const span = el('span', 'tok');
  let chars = Array.from(String(text));
  if (chars.length === 0) chars = ['∅'];
  const cut = maxChars !== undefined && chars.length > maxChars;
  if (cut) chars = chars.slice(0, maxChars - 1);
  let plain = '';
  const flush = () => { if (plain) span.append(plain); plain = ''; };
  for (const ch of chars) {
    const code = ch.codePointAt(0);
    const shown = VISIBLE_WS[ch] || (code < 0x20 ? String.fromCodePoint(0x2400 + code) : code === 0x7f ? '␡' : null);
    if (shown) { flush(); span.append(el('span', 'ws', shown)); } else plain += ch;
  }
  flush();
  if (cut) span.append(el('span', 'ws', '…'));
  return span;
}

function percent(p) {
  if (typeof p !== 'number') return '?';
  if (p >= 0.1) return (100 * p).toFixed(0) + '%';
  if (p >= 0.001) return (100 * p).toFixed(1) + '%';
  return p > 0 ? '<0.1%' : '0%';
}

/// Shades a table cell by a value in [0, 1], linearly: near white for 0, dark (white text) near 1.
function shade(cell, value, hue) {
  const v = Math.max(0, Math.min(1, value || 0));
  cell.style.background = 'hsl(' + hue + ' 55% ' + (97 - 70 * v).toFixed(1) + '%)';
  cell.classList.toggle('dark', v > 0.6);
}

/// A cell body: token text (cut with an ellipsis when too wide) and a number on the right.
function cellContent(text, number) {
  const box = el('div', 'in-cell');
  box.append(tokenSpan(text, 40), el('span', 'p', number));
  return box;
}

function describeRule(rule) {
  switch (rule) {
    case 'prompt': return 'prompt (the next prompt token, teacher-forced)';
    case 'argmax': return 'argmax (greedy)';
    case 'sample': return 'sampled';
    default: return rule == null ? 'none' : String(rule);
  }
}

function describeSampling(sampling) {
  if (!sampling || typeof sampling !== 'object') return 'unknown';
  const rest = Object.keys(sampling).filter((k) => k !== 'rule').map((k) => k + ' ' + JSON.stringify(sampling[k]));
  return describeRule(sampling.rule) + (rest.length ? ': ' + rest.join(', ') : '');
}

// ---- header and token row ----------------------------------------------------------------------------
function renderHeader() {
  const shape = [probe.architecture, nLayers + ' layers', nHeads + ' heads',
                 'vocabulary ' + probe.d_vocab].filter((x) => x !== undefined).join(', ');
  $('model').textContent = probe.model + '  (' + shape + ')';
  $('prompt').append(tokenSpan(probe.prompt));
  $('sampling').textContent = describeSampling(probe.sampling) + '; top-' + probe.top_k + ' candidates kept per distribution';
  document.querySelectorAll('.top-k').forEach((e) => { e.textContent = String(probe.top_k); });
  document.title = 'xlens probe: ' + probe.prompt;
}

function renderTokens() {
  const row = $('tokens');
  steps.forEach((step, k) => {
    const chip = el('button', 'token ' + (step.source === 'generated' ? 'generated' : 'prompt'));
    chip.type = 'button';
    chip.dataset.step = String(k);
    chip.append(tokenSpan(step.token.text, 24));
    const previous = k > 0 && steps[k - 1].next ? steps[k - 1].next.chosen : null;
    if (step.source === 'generated' && previous) chip.append(el('span', 'p', percent(previous.prob)));
    chip.title = 'step ' + k + ', position ' + step.position + ', token ' + step.token.id + ' ' +
                 JSON.stringify(step.token.text) + (previous ? ', p = ' + previous.prob : '');
    chip.addEventListener('click', () => select(k, true));
    row.append(chip);
  });
}
)xlens";
}

inline const char* probe_page_panels() {
    return R"xlens(
// ---- the selected step ---------------------------------------------------------------------------------
function renderSummary(step) {
  $('step-token').replaceChildren(tokenSpan(step.token.text),
    el('span', 'note', '  (' + step.source + ' token ' + step.token.id + ' at position ' + step.position + ')'));
  const next = step.next || {};
  const out = $('next-summary');
  out.replaceChildren();
  if (!next.chosen) {
    out.append('Last step: nothing chosen after it; the ladder shows the model\'s output distribution.');
    return;
  }
  out.append('Next token: ', tokenSpan(next.chosen.text), ' (id ' + next.chosen.id + '), rank ' + next.chosen.rank +
             ', probability ' + percent(next.chosen.prob) + ' (' + next.chosen.prob + '), rule: ' + describeRule(next.rule) + '.');
}

function candidateCell(candidate, chosenId, hue) {
  const td = el('td', 'cell');
  td.append(cellContent(candidate.text, percent(candidate.prob)));
  td.title = 'token ' + candidate.id + ' ' + JSON.stringify(candidate.text) + ', p = ' + candidate.prob +
             (candidate.logit !== undefined ? ', logit ' + candidate.logit : '');
  shade(td, candidate.prob, hue);
  if (candidate.id === chosenId) td.classList.add('chosen');
  return td;
}

function renderLens(step) {
  const chosenId = step.next && step.next.chosen ? step.next.chosen.id : null;
  const table = $('lens-table');
  table.replaceChildren();
  const head = el('tr');
  head.append(el('th', '', 'layer'));
  for (let i = 1; i <= probe.top_k; i++) head.append(el('th', '', '#' + i));
  table.appendChild(el('thead')).append(head);
  const body = table.appendChild(el('tbody'));
  const addRow = (label, candidates, className) => {
    const tr = body.appendChild(el('tr', className));
    tr.append(el('th', '', label));
    (candidates || []).forEach((c) => tr.append(candidateCell(c, chosenId, 222)));
  };
  addRow('output', step.next ? step.next.candidates : [], 'output-row');
  for (let layer = nLayers - 1; layer >= 0; layer--) addRow(String(layer), step.lens[layer], 'layer-row');
}

function renderNorms(step) {
  const svg = $('norm-chart');
  svg.replaceChildren();
  const norms = step.resid_norm || [];
  const width = 640, height = 130, left = 34, bottom = 16, top = 6;
  const max = Math.max(...norms, 1e-9);
  const slot = (width - left) / Math.max(norms.length, 1);
  const add = (tag, attributes, text) => {
    const node = document.createElementNS(svgNS, tag);
    for (const [k, v] of Object.entries(attributes)) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return svg.appendChild(node);
  };
  add('text', { x: left - 4, y: top + 8, 'text-anchor': 'end' }, max.toFixed(0));
  add('text', { x: left - 4, y: height - bottom, 'text-anchor': 'end' }, '0');
  add('line', { x1: left, y1: height - bottom, x2: width, y2: height - bottom, stroke: '#aab' });
  norms.forEach((value, i) => {
    const h = (height - bottom - top) * value / max;
    const bar = add('rect', { x: left + i * slot + 1, y: height - bottom - h, width: Math.max(slot - 2, 1), height: h });
    const label = i === 0 ? 'after the embedding' : 'after layer ' + (i - 1);
    bar.appendChild(document.createElementNS(svgNS, 'title')).textContent = label + ': ' + value;
    if (i === 0 || (i - 1) % 5 === 0 || i === norms.length - 1)
      add('text', { x: left + (i + 0.5) * slot, y: height - 3, 'text-anchor': 'middle' }, i === 0 ? 'emb' : String(i - 1));
  });
}

function renderAttention(step) {
  const table = $('attention-grid');
  table.replaceChildren();
  const head = el('tr');
  head.append(el('th', '', 'layer'));
  for (let h = 0; h < nHeads; h++) head.append(el('th', '', 'h' + h));
  table.appendChild(el('thead')).append(head);
  const body = table.appendChild(el('tbody'));
  for (let layer = nLayers - 1; layer >= 0; layer--) {
    const tr = body.appendChild(el('tr'));
    tr.append(el('th', '', String(layer)));
    for (let h = 0; h < nHeads; h++) {
      const top = ((step.attention[layer] || [])[h] || [])[0];
      const td = tr.appendChild(el('td', 'cell'));
      td.dataset.layer = String(layer);
      td.dataset.head = String(h);
      if (top) {
        td.append(cellContent(textAtPosition.get(top.pos), top.weight.toFixed(2).replace(/^0/, '')));
        td.title = 'layer ' + layer + ' head ' + h + ': position ' + top.pos + ' ' +
                   JSON.stringify(textAtPosition.get(top.pos)) + ', weight ' + top.weight;
        shade(td, top.weight, 160);
      }
      td.addEventListener('mouseenter', () => renderHead(step, layer, h));
      td.addEventListener('click', () => { pinned = { layer, head: h }; markPinned(); renderHead(step, layer, h); });
    }
  }
  table.onmouseleave = () => renderHead(step, pinned.layer, pinned.head);
  markPinned();
  renderHead(step, pinned.layer, pinned.head);
}

function markPinned() {
  document.querySelectorAll('#attention-grid td.cell').forEach((td) => {
    td.classList.toggle('pinned', Number(td.dataset.layer) === pinned.layer && Number(td.dataset.head) === pinned.head);
  });
}

/// Lists one head's top attended positions beside the grid.
function renderHead(step, layer, head) {
  const box = $('attention-detail');
  box.replaceChildren(el('h3', '', 'Layer ' + layer + ', head ' + head),
                      el('p', 'note', 'Top attended positions (@position) from step ' + current + '. Click a cell to pin its head.'));
  const table = box.appendChild(el('table'));
  for (const a of ((step.attention[layer] || [])[head] || [])) {
    const tr = table.appendChild(el('tr'));
    tr.append(el('td', 'note', '@' + a.pos));
    tr.appendChild(el('td')).append(tokenSpan(textAtPosition.get(a.pos), 40));
    const bar = el('span', 'bar');
    bar.style.width = (30 * a.weight).toFixed(1) + 'px';
    tr.appendChild(el('td')).append(bar);
    tr.append(el('td', '', a.weight.toFixed(3)));
  }
}

function select(k, fromUser) {
  if (!(Number.isInteger(k) && k >= 0 && k < steps.length)) return;
  current = k;
  document.querySelectorAll('#tokens .token').forEach((chip, i) => chip.classList.toggle('selected', i === k));
  const step = steps[k];
  $('selected-step').textContent = String(k);
  renderSummary(step);
  renderLens(step);
  renderNorms(step);
  renderAttention(step);
  if (fromUser) {
    try { history.replaceState(null, '', '#step=' + k); } catch (e) { /* some file:// setups refuse; harmless */ }
  }
}

function stepFromFragment() {
  const match = /^#step=(\d+)$/.exec(location.hash);
  return match ? Number(match[1]) : -1;
}

// ---- start -------------------------------------------------------------------------------------------
renderHeader();
renderTokens();
let lastPrompt = -1;
steps.forEach((s, k) => { if (s.source === 'prompt') lastPrompt = k; });
const wanted = stepFromFragment();
select(wanted >= 0 && wanted < steps.length ? wanted : (lastPrompt >= 0 ? lastPrompt : steps.length - 1), false);
window.addEventListener('hashchange', () => select(stepFromFragment(), false));
document.addEventListener('keydown', (e) => {
  if (e.key === 'ArrowLeft') select(current - 1, true);
  if (e.key === 'ArrowRight') select(current + 1, true);
});
document.body.dataset.rendered = 'yes';
</script>
</body>
</html>
)xlens";
}

}  // namespace detail

inline std::string probe_html(const nlohmann::json& probe) {
    std::string page = detail::probe_page_head();
    page += detail::script_safe_json(probe);
    page += detail::probe_page_script();
    page += detail::probe_page_panels();
    return page;
}

}  // namespace xlens
