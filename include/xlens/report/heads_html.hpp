// xlens/report/heads_html.hpp — the attention-head roles report (`xlens heads --json`) as one offline HTML page.
//
// Self-contained like probe_html.hpp: CSS and JavaScript inline, the report embedded unchanged in
// <script type="application/json" id="heads-data"> (made safe by detail::script_safe_json), nothing
// fetched from the network, text inserted with textContent only.
//
// What the page shows (plain JavaScript, no framework):
//   - a header with the model, the clustering (method, k, silhouette) and the number of heads per
//     role, which doubles as the colour legend (diffuse is grey);
//   - a layer x head map (layers down, heads across), one small cell per head (class "head-cell",
//     data-layer, data-head) coloured by role and lettered P I D F S L ·;
//   - for the selected head: its scores (table #head-scores) and its attention pattern on the example
//     prompt (SVG #pattern: query rows x key columns, one rect of class "pattern-cell" per causal
//     entry, shaded by weight, the weight in its <title>; token texts label the axes, whitespace shown);
//   - the roles table (#roles-table, one "role-row" per head, sortable by clicking a column header);
//   - the feature scatter (SVG #scatter, one circle of class "head-point" per head at its first two
//     principal components, coloured by role, titled "L{l}H{h} role").
// Hovering a map cell or point previews a head; clicking one (or a table row) selects it. The head
// with the highest induction_attainable is selected first; the fragment `#head=L3H5` selects layer 3,
// head 5 (the page keeps it current).
//
// For automated checks (tools/reference/check_heads_report.py drives headless Chromium):
// body[data-rendered="yes"] once rendering finished; script errors go into #script-errors (empty when
// all went well); #selected-head shows "L{l}H{h}" and carries data-layer and data-head.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "xlens/report/probe_html.hpp"  // detail::script_safe_json

namespace xlens {

/// Renders an attention-head roles report (schema "xlens.heads/1") as a complete HTML5 page.
///
/// @param report  the report as built by `xlens heads` (tools/cli/head_commands.hpp); it is embedded
///                unchanged (strings that are not valid UTF-8 get U+FFFD in place of bad bytes). The
///                pattern heatmap needs report["example"]["patterns"]; without it the page says so.
/// @return        the page as UTF-8 text, ready to write to a .html file.
/// @exceptions    none of its own; a document that is not a heads report still yields a page, which
///                then reports the problem in its red `#script-errors` box instead of rendering.
/// @complexity    linear in the size of the JSON document.
/// @usage       `write_text("heads.html", xlens::heads_html(report));`
inline std::string heads_html(const nlohmann::json& report);

// ==== implementation ================================================================================

namespace detail {

// The page around the data, in pieces below 16 KB each (MSVC's limit for one string literal).
inline const char* heads_page_head() {
    return R"xlens(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>xlens attention-head roles</title>
<style>
:root { --ink: #1d2330; --muted: #687080; --line: #d5dae2; --select: #111; }
* { box-sizing: border-box; }
body { margin: 14px; color: var(--ink); background: #fff; font: 13px/1.35 system-ui, "DejaVu Sans", sans-serif; }
h1 { font-size: 18px; margin: 0 0 6px; } h2 { font-size: 15px; margin: 0 0 4px; }
.note { color: var(--muted); font-size: 12px; margin: 2px 0 6px; }
.mono { font-family: "DejaVu Sans Mono", ui-monospace, monospace; }
#meta { display: grid; grid-template-columns: max-content 1fr; gap: 1px 10px; margin: 0 0 10px; }
#meta dt { color: var(--muted); }
#meta dd { margin: 0; overflow-wrap: anywhere; }
#script-errors { color: #b00020; font-weight: bold; white-space: pre-wrap; }
#script-errors:not(:empty) { border: 2px solid #b00020; padding: 6px; margin: 8px 0; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 3px; vertical-align: -2px; margin-right: 3px; }
.legend-item { margin-right: 12px; white-space: nowrap; } .legend-item.none { color: var(--muted); }
.row { display: flex; gap: 22px; align-items: flex-start; margin-top: 12px; }
table { border-collapse: collapse; font-size: 12px; }
th { font-weight: normal; color: var(--muted); padding: 1px 5px; white-space: nowrap; }
#head-map { border-collapse: separate; border-spacing: 1px; }
#head-map th { font-size: 9px; padding: 0 3px; text-align: right; }
#head-map thead th { text-align: center; padding: 0; }
td.head-cell { width: 20px; height: 13px; padding: 0; font: 9px/13px "DejaVu Sans Mono", monospace; color: #fff;
               text-align: center; cursor: pointer; border-radius: 2px; }
td.head-cell.diffuse { color: #555; }
.selected.head-cell { outline: 2px solid var(--select); outline-offset: 0; }
#detail { flex: 1 1 auto; min-width: 0; }
#detail-body { display: flex; gap: 18px; align-items: flex-start; flex-wrap: wrap; }
#pattern-panel { flex: 1 1 400px; min-width: 0; overflow-x: auto; }
#head-scores td, #head-scores th { padding: 1px 6px; text-align: right; }
#head-scores th:first-child { text-align: left; color: var(--ink); }
.bar { display: inline-block; height: 9px; background: #5b7fd6; vertical-align: middle; }
#pattern text, #scatter text { font-family: "DejaVu Sans Mono", ui-monospace, monospace; fill: var(--ink); }
#pattern rect.pattern-cell:hover { stroke: #e8590c; stroke-width: 1.5; }
.scale span { display: inline-block; width: 16px; height: 10px; vertical-align: -1px; }
#table-panel { flex: 1 1 auto; min-width: 0; }
#table-box { max-height: 560px; overflow: auto; border: 1px solid var(--line); }
#roles-table th { position: sticky; top: 0; background: #f3f5f8; cursor: pointer; padding: 3px 4px; }
#roles-table th.sorted { color: var(--ink); font-weight: bold; }
#roles-table td { padding: 1px 4px; text-align: right; white-space: nowrap; }
#roles-table td.text { text-align: left; }
tr.role-row { cursor: pointer; } tr.role-row:hover { background: #f3f5f8; } tr.role-row.selected { background: #fff3bf; }
#scatter circle.head-point { stroke: #fff; stroke-width: 0.8; cursor: pointer; }
#scatter circle.head-point.selected { stroke: var(--select); stroke-width: 2.5; }
#scatter .axis { stroke: #aab; fill: none; } #scatter .tick { font-size: 10px; fill: var(--muted); }
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
<h1>xlens attention-head roles</h1>
<dl id="meta">
  <dt>model</dt><dd id="model" class="mono"></dd>
  <dt>clustering</dt><dd id="clustering"></dd>
  <dt>scored on</dt><dd id="scored-on"></dd>
  <dt>roles</dt><dd id="role-legend"></dd>
</dl>
</header>
<div class="row">
<section id="map-panel">
<h2>Head map</h2>
<p class="note">Layers down, heads across.<br>Hover to preview, click to select.</p>
<table id="head-map"></table>
</section>
<section id="detail">
<h2>Selected head <span id="selected-head" class="mono"></span>: <span id="selected-role"></span></h2>
<p id="selected-cluster" class="note"></p>
<div id="detail-body">
<section><table id="head-scores"></table>
<p class="note">induction*: induction divided by the share of rows<br>that had an induction target (about 1 for a
perfect<br>induction head). mean_distance in positions.</p></section>
<section id="pattern-panel">
<p class="note">Attention on the example prompt: queries down, keys across; hover a cell for its weight.
Whitespace shown as · space, ↵ newline, → tab.<br>
Weight <span class="scale" id="weight-scale"></span> <span id="pattern-note"></span></p>
<svg id="pattern" width="0" height="0"></svg>
</section>
</div>
</section>
</div>
<div class="row">
<section id="scatter-panel">
<h2>Feature scatter</h2>
<p class="note">The standardised head features projected on their first two principal components.</p>
<svg id="scatter" width="460" height="380" viewBox="0 0 460 380"></svg>
</section>
<section id="table-panel">
<h2>Roles</h2>
<p class="note">One row per head; click a column header to sort, a row to select its head.</p>
<div id="table-box"><table id="roles-table"></table></div>
</section>
</div>
<script type="application/json" id="heads-data">)xlens";
}

inline const char* heads_page_script() {
    return R"xlens(</script>
<script>
'use strict';
const $ = (id) => document.getElementById(id);
const report = JSON.parse($('heads-data').textContent);
if (report === null || typeof report !== 'object' || report.schema !== 'xlens.heads/1' || !Array.isArray(report.roles))
  throw new Error('the embedded data is not an xlens heads report (schema "xlens.heads/1")');
const roles = report.roles;  // layer-major; an index i into roles names a head everywhere below
const nHeads = report.heads;
const svgNS = $('pattern').namespaceURI;
const ROLE_COLOUR = { previous_token: '#3b6fd1', induction: '#d6382f', duplicate_token: '#8e5cc9',
                      first_token: '#ee8a1c', self: '#2f9e44', local: '#14a3b8', diffuse: '#b4b8c0' };
const ROLE_LETTER = { previous_token: 'P', induction: 'I', duplicate_token: 'D', first_token: 'F', self: 'S',
                      local: 'L', diffuse: '·' };
const colourOf = (role) => ROLE_COLOUR[role] || '#555';
// [key in scores, column title, decimals, what it measures]
const FEATURES = [
  ['previous_token', 'prev', 3, 'attention on the previous token'],
  ['duplicate_token', 'dup', 3, 'attention on earlier copies of the current token'],
  ['induction', 'ind', 3, 'attention on the token after an earlier copy of the current token'],
  ['induction_attainable', 'ind*', 3, 'induction over the share of rows that had a target'],
  ['first_token', 'first', 3, 'attention on position 0 (sink)'],
  ['self', 'self', 3, 'attention on the current token'],
  ['local', 'local', 3, 'attention 2 to K positions back'],
  ['mean_distance', 'dist', 2, 'mean distance attended back, in positions'],
  ['entropy', 'entropy', 3, 'normalised entropy: 0 one key, 1 uniform']];
let shown = -1, pinned = -1;

// ---- small helpers -----------------------------------------------------------------------------------
function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}
function svgEl(parent, tag, attributes, text) {
  const node = document.createElementNS(svgNS, tag);
  for (const [k, v] of Object.entries(attributes || {})) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return parent.appendChild(node);
}
function svgTitle(node, text) { svgEl(node, 'title', {}, text); }
const fmt = (x, digits) => (typeof x === 'number' && isFinite(x) ? x.toFixed(digits) : '–');
const label = (i) => 'L' + roles[i].layer + 'H' + roles[i].head;
const score = (i, key) => (roles[i].scores || {})[key];

/// Token text with whitespace and control characters made visible, cut at maxChars with an ellipsis.
function visible(text, maxChars) {
  let chars = Array.from(String(text)).map((ch) => {
    const code = ch.codePointAt(0);
    return ch === ' ' ? '·' : ch === '\n' ? '↵' : ch === '\t' ? '→' : code < 0x20 ? String.fromCodePoint(0x2400 + code)
         : code === 0x7f ? '␡' : ch;
  });
  if (chars.length === 0) chars = ['∅'];
  if (maxChars !== undefined && chars.length > maxChars) chars = chars.slice(0, maxChars - 1).concat(['…']);
  return chars.join('');
}

/// A weight in [0, 1] as a blue from near white (0) to dark (1), linear in the weight.
const weightColour = (w) => 'hsl(222 65% ' + (97 - 62 * Math.max(0, Math.min(1, w || 0))).toFixed(1) + '%)';

/// Makes `node` select head i: hovering previews it (when `hover`), clicking selects it.
function selects(node, i, hover) {
  node.dataset.index = String(i);
  node.addEventListener('click', () => select(i, true));
  if (hover) node.addEventListener('mouseenter', () => show(i));
  if (hover) node.addEventListener('mouseleave', () => show(pinned));
}

// ---- header and head map -----------------------------------------------------------------------------
function renderHeader() {
  $('model').textContent = String(report.model) + '  (' + report.layers + ' layers × ' + nHeads + ' heads)';
  $('clustering').textContent = report.method + ', k = ' + report.k + ', silhouette ' + fmt(report.silhouette, 3) +
    ', inertia ' + fmt(report.inertia, 1) + '; a cluster is named by its mean scores at or above ' + report.threshold;
  const sequences = report.sequences || [];
  let on = sequences.length + ' random sequence' + (sequences.length === 1 ? '' : 's') + ' of ' +
           (sequences[0] || []).length + ' tokens (each repeated twice)';
  if (report.text && report.text.sequences) on += ' and ' + report.text.sequences + ' text windows';
  $('scored-on').textContent = on;
  const counts = new Map(Object.keys(ROLE_COLOUR).map((r) => [r, 0]));
  for (const r of roles) counts.set(r.role, (counts.get(r.role) || 0) + 1);
  for (const [role, n] of counts) {
    const item = $('role-legend').appendChild(el('span', 'legend-item' + (n ? '' : ' none')));
    item.dataset.role = role;
    item.appendChild(el('span', 'swatch')).style.background = colourOf(role);
    item.append((ROLE_LETTER[role] || '?') + ' ' + role + ' ' + n);
  }
  for (let k = 0; k <= 10; k++) $('weight-scale').appendChild(el('span')).style.background = weightColour(k / 10);
  $('weight-scale').append(' 1');
  $('weight-scale').prepend('0 ');
}

function renderMap() {
  const table = $('head-map');
  const top = table.appendChild(el('thead')).appendChild(el('tr'));
  top.append(el('th'));
  for (let h = 0; h < nHeads; h++) top.append(el('th', '', String(h)));
  const body = table.appendChild(el('tbody'));
  let tr = null;
  roles.forEach((r, i) => {
    if (!tr || r.head === 0) (tr = body.appendChild(el('tr'))).append(el('th', '', 'L' + r.layer));
    const td = tr.appendChild(el('td', 'head-cell ' + r.role, ROLE_LETTER[r.role] || '?'));
    td.dataset.layer = String(r.layer);
    td.dataset.head = String(r.head);
    td.style.background = colourOf(r.role);
    td.title = label(i) + ' ' + r.role + ' (cluster ' + r.cluster + ': ' + r.cluster_name + '), induction* ' +
               fmt(score(i, 'induction_attainable'), 3);
    selects(td, i, true);
  });
}
)xlens";
}

inline const char* heads_page_views() {
    return R"xlens(
// ---- the selected head -------------------------------------------------------------------------------
function renderScores(i) {
  const r = roles[i], text = report.text && report.text.scores;
  const grid = (scores, key) => (scores && scores[key] ? (scores[key][r.layer] || [])[r.head] : undefined);
  const table = $('head-scores'), head = el('tr');
  table.replaceChildren(head);
  head.append(el('th', '', 'score'), el('th', '', 'value'), el('th'), el('th', '', 'rank'));
  if (text) head.append(el('th', '', 'repeats'), el('th', '', 'text'));
  for (const [key, name, digits, meaning] of FEATURES) {
    const value = score(i, key);
    const tr = table.appendChild(el('tr'));
    tr.append(el('th', '', key === 'induction_attainable' ? 'induction*' : key), el('td', '', fmt(value, digits)));
    tr.title = meaning;
    const bar = el('span', 'bar');
    if (key !== 'mean_distance') bar.style.width = (60 * Math.max(0, Math.min(1, value || 0))).toFixed(1) + 'px';
    tr.appendChild(el('td')).append(bar);
    const rank = 1 + roles.filter((o) => (o.scores || {})[key] > value).length;
    tr.append(el('td', 'note', '#' + rank + ' of ' + roles.length));
    if (text) tr.append(el('td', '', fmt(grid(report.scores, key), digits)), el('td', '', fmt(grid(text, key), digits)));
  }
}

function renderPattern(i) {
  const r = roles[i], example = report.example || {}, svg = $('pattern');
  svg.replaceChildren();
  svg.dataset.layer = String(r.layer);
  svg.dataset.head = String(r.head);
  const rows = ((example.patterns || [])[r.layer] || [])[r.head];
  if (!Array.isArray(rows) || rows.length === 0) {
    $('pattern-note').textContent = '(this report has no attention patterns: `xlens heads` saves them with --html)';
    svg.setAttribute('width', 0);
    svg.setAttribute('height', 0);
    return;
  }
  const T = rows.length;
  const texts = (example.token_texts || []).length === T ? example.token_texts : (example.tokens || []).map((t) => '#' + t);
  const chars = 10, room = Math.min($('pattern-panel').clientWidth || 620, 760);  // fit the panel, within reason
  const cell = Math.max(8, Math.min(22, Math.floor((room - 110) / T)));
  const font = Math.min(11, cell - 1), margin = Math.ceil(chars * font * 0.62) + 26;  // token text and position
  const size = margin + T * cell + 2;
  svg.setAttribute('width', size);
  svg.setAttribute('height', size);
  svg.setAttribute('viewBox', '0 0 ' + size + ' ' + size);
  $('pattern-note').textContent = '(' + T + ' tokens; rows sum to 1)';
  const tokenLabel = (k) => visible(texts[k], chars) + ' ' + k;
  for (let k = 0; k < T; k++) {
    const middle = margin + (k + 0.5) * cell;
    const rowLabel = svgEl(svg, 'text', { x: margin - 4, y: middle, 'text-anchor': 'end', 'dominant-baseline': 'central',
                                          'font-size': font }, tokenLabel(k));
    const columnLabel = svgEl(svg, 'text', { transform: 'translate(' + middle + ' ' + (margin - 4) + ') rotate(-90)',
                                             'dominant-baseline': 'central', 'font-size': font }, tokenLabel(k));
    svgTitle(rowLabel, 'position ' + k + ': ' + JSON.stringify(String(texts[k])));
    svgTitle(columnLabel, 'position ' + k + ': ' + JSON.stringify(String(texts[k])));
  }
  rows.forEach((row, q) => (row || []).forEach((w, k) => {
    const rect = svgEl(svg, 'rect', { class: 'pattern-cell', x: margin + k * cell, y: margin + q * cell,
                                      width: cell, height: cell, fill: weightColour(w) });
    svgTitle(rect, 'query ' + q + ' ' + JSON.stringify(String(texts[q])) + ' → key ' + k + ' ' +
                   JSON.stringify(String(texts[k])) + ': ' + fmt(w, 4));
  }));
  svgEl(svg, 'rect', { x: margin, y: margin, width: T * cell, height: T * cell, fill: 'none', stroke: '#aab' });
}

/// Shows head i in the detail panel and marks it everywhere (a preview while hovering).
function show(i) {
  if (!(Number.isInteger(i) && i >= 0 && i < roles.length) || i === shown) return;
  shown = i;
  const r = roles[i];
  $('selected-head').textContent = label(i);
  $('selected-head').dataset.layer = String(r.layer);
  $('selected-head').dataset.head = String(r.head);
  $('selected-role').textContent = r.role;
  $('selected-role').style.color = colourOf(r.role);
  $('selected-cluster').textContent = 'cluster ' + r.cluster + ': ' + r.cluster_name;
  document.querySelectorAll('.head-cell, .head-point, .role-row').forEach((node) => {
    node.classList.toggle('selected', Number(node.dataset.index) === i);
  });
  renderScores(i);
  renderPattern(i);
}

function select(i, fromUser) {
  if (!(Number.isInteger(i) && i >= 0 && i < roles.length)) return;
  pinned = i;
  show(i);
  const point = document.querySelector('.head-point.selected');
  if (point) point.parentNode.appendChild(point);  // drawn over its neighbours
  const row = document.querySelector('.role-row.selected'), box = $('table-box');
  const r = row.getBoundingClientRect(), b = box.getBoundingClientRect();
  if (r.top < b.top + 24 || r.bottom > b.bottom) box.scrollTop += r.top - b.top - b.height / 2;  // the box, not the page
  if (fromUser) {
    try { history.replaceState(null, '', '#head=' + label(i)); } catch (e) { /* some file:// setups refuse */ }
  }
}

// ---- roles table and scatter -----------------------------------------------------------------------
function renderTable() {
  const table = $('roles-table');
  const columns = [['layer', 'L'], ['head', 'H'], ['role', 'role'], ['cluster', 'cluster'], ['cluster_name', 'cluster name']]
    .map(([key, name]) => ({ name, text: key === 'role' || key === 'cluster_name', value: (r) => r[key] }))
    .concat(FEATURES.map(([key, name, digits, meaning]) => ({ name, digits, meaning, value: (r) => (r.scores || {})[key] })));
  const header = table.appendChild(el('thead')).appendChild(el('tr'));
  const body = table.appendChild(el('tbody'));
  const rows = roles.map((r, i) => {
    const tr = el('tr', 'role-row');
    for (const c of columns) {
      const v = c.value(r);
      const td = tr.appendChild(el('td', c.text ? 'text' : '', c.digits === undefined ? String(v) : fmt(v, c.digits)));
      if (c.name === 'role') td.insertBefore(el('span', 'swatch'), td.firstChild).style.background = colourOf(v);
    }
    selects(tr, i, false);
    return tr;
  });
  body.append(...rows);
  let sortedBy = -1, descending = false;
  columns.forEach((c, n) => {
    const th = header.appendChild(el('th', '', c.name));
    if (c.meaning) th.title = c.meaning;
    th.addEventListener('click', () => {
      descending = sortedBy === n ? !descending : c.digits !== undefined;  // scores start largest first
      sortedBy = n;
      header.querySelectorAll('th').forEach((t, m) => t.classList.toggle('sorted', m === n));
      const key = (tr) => c.value(roles[Number(tr.dataset.index)]);
      const order = rows.slice().sort((a, b) => {
        const x = key(a), y = key(b);
        const cmp = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
        return (descending ? -cmp : cmp) || Number(a.dataset.index) - Number(b.dataset.index);
      });
      body.append(...order);
    });
  });
}

function renderScatter() {
  const svg = $('scatter'), pca = report.pca || [];
  const width = 460, height = 380, left = 44, right = 10, top = 10, bottom = 38;
  const xs = pca.map((p) => p[0]), ys = pca.map((p) => p[1]);
  const range = (v) => { const lo = Math.min(...v), hi = Math.max(...v), pad = 0.05 * (hi - lo || 1); return [lo - pad, hi + pad]; };
  const [x0, x1] = range(xs), [y0, y1] = range(ys);
  const X = (x) => left + (width - left - right) * (x - x0) / (x1 - x0);
  const Y = (y) => height - bottom - (height - top - bottom) * (y - y0) / (y1 - y0);
  svgEl(svg, 'rect', { class: 'axis', x: left, y: top, width: width - left - right, height: height - top - bottom });
  if (x0 < 0 && x1 > 0) svgEl(svg, 'line', { class: 'axis', x1: X(0), x2: X(0), y1: top, y2: height - bottom, 'stroke-dasharray': '3 3' });
  if (y0 < 0 && y1 > 0) svgEl(svg, 'line', { class: 'axis', x1: left, x2: width - right, y1: Y(0), y2: Y(0), 'stroke-dasharray': '3 3' });
  for (const [x, anchor] of [[x0, 'start'], [x1, 'end']])
    svgEl(svg, 'text', { class: 'tick', x: X(x), y: height - bottom + 12, 'text-anchor': anchor }, fmt(x, 1));
  for (const [y, baseline] of [[y0, 'auto'], [y1, 'hanging']])
    svgEl(svg, 'text', { class: 'tick', x: left - 4, y: Y(y), 'text-anchor': 'end', 'dominant-baseline': baseline }, fmt(y, 1));
  svgEl(svg, 'text', { x: left + (width - left - right) / 2, y: height - 6, 'text-anchor': 'middle' }, 'PC1');
  svgEl(svg, 'text', { transform: 'translate(14 ' + (top + (height - top - bottom) / 2) + ') rotate(-90)', 'text-anchor': 'middle' }, 'PC2');
  pca.forEach((p, i) => {
    if (i >= roles.length) return;
    const dot = svgEl(svg, 'circle', { class: 'head-point', cx: X(p[0]).toFixed(1), cy: Y(p[1]).toFixed(1), r: 4.5,
                                       fill: colourOf(roles[i].role) });
    dot.dataset.layer = String(roles[i].layer);
    dot.dataset.head = String(roles[i].head);
    svgTitle(dot, label(i) + ' ' + roles[i].role);
    selects(dot, i, true);
  });
}

// ---- start -------------------------------------------------------------------------------------------
function headFromFragment() {
  const match = /^#head=L(\d+)H(\d+)$/.exec(location.hash);
  return match ? roles.findIndex((r) => r.layer === Number(match[1]) && r.head === Number(match[2])) : -1;
}
renderHeader();
renderMap();
renderTable();
renderScatter();
let strongest = 0;  // the clearest induction head, if any
roles.forEach((r, i) => { if ((score(i, 'induction_attainable') || 0) > (score(strongest, 'induction_attainable') || 0)) strongest = i; });
const wanted = headFromFragment();
select(wanted >= 0 ? wanted : strongest, false);
window.addEventListener('hashchange', () => select(headFromFragment(), false));
document.body.dataset.rendered = 'yes';
</script>
</body>
</html>
)xlens";
}

}  // namespace detail

inline std::string heads_html(const nlohmann::json& report) {
    std::string page = detail::heads_page_head();
    page += detail::script_safe_json(report);
    page += detail::heads_page_script();
    page += detail::heads_page_views();
    return page;
}

}  // namespace xlens
