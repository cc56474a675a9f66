"""The explain tool's outputs: the terminal's lines, the JSON records and one self-contained
HTML page, from `kasm_keras.models.explanation.Explanation`s.

The page carries its data as JSON inside the page and draws it with a few lines of script (no
file or address outside it is fetched): tokens shaded by their contribution to the chosen class
(red for, blue against), a class selector, the top parts per class, for a time series a heatmap
of (channel, step), and where the record has one the memory kernel as a heatmap. Text reaches the page only through `textContent`, never as HTML.
"""

import html
import json

import numpy as np

# ANSI colours of the terminal's lines: for the class, against it.
_FOR, _AGAINST, _RESET = "\033[1;31m", "\033[1;34m", "\033[0m"


def parts(result):
    """(labels, contributions `[parts, outputs]`) of an explanation: its tokens, or a time
    series' "step S, channel C" cells."""
    values = np.asarray(result.contributions)
    if result.tokens is not None:
        return list(result.tokens), values
    steps, channels = values.shape[:2]
    labels = [f"step {s}, channel {c}" for s in range(steps) for c in range(channels)]
    return labels, values.reshape(steps * channels, -1)


def predicted(result):
    """The index of the output the model picks (the largest logit)."""
    return int(np.argmax(result.logits))


def record(source, result):
    """One explanation as a JSON-ready dict (`source`: the text, prompt or case it explains)."""
    return {"input": source, "tokens": result.tokens,
            "contributions": np.asarray(result.contributions).round(6).tolist(),
            "constant": np.asarray(result.constant).round(6).tolist(),
            "logits": np.asarray(result.logits).round(6).tolist(),
            "class_names": list(result.class_names),
            "predicted": result.class_names[predicted(result)],
            "completeness_error": result.completeness_error()}


def top_parts(result, output, count):
    """The `count` parts with the largest contribution to `output`, as (label, value)."""
    labels, values = parts(result)
    order = np.argsort(-values[:, output], kind="stable")[:count]
    return [(labels[i], float(values[i, output])) for i in order]


def lines(source, result, top=5, colour=False):
    """The terminal's lines of one explanation: the predicted output, each token with its
    contribution to it (coloured when `colour`; a time series' cells are many, so only its top
    parts), then the top parts of every output and the constant."""
    k = predicted(result)
    name = result.class_names[k]
    out = [f"{source}", f"  predicted: {name} (logit {result.logits[k]:.3f}, constant "
                        f"{result.constant[k]:+.3f})"]
    if result.tokens is not None:
        words = []
        for token, value in zip(result.tokens, np.asarray(result.contributions)[:, k]):
            word = f"{token}({value:+.2f})"
            if colour and abs(value) >= 0.05:
                word = f"{_FOR if value > 0 else _AGAINST}{word}{_RESET}"
            words.append(word)
        out.append(f"  to {name}: " + " ".join(words))
    for index, output in enumerate(result.class_names):
        best = ", ".join(f"{label} {value:+.2f}" for label, value in top_parts(result, index, top))
        out.append(f"  top for {output}: {best}")
    return out


def page(title, records):
    """One self-contained HTML page of the records (`record`'s dicts)."""
    data = json.dumps({"title": title, "records": records}).replace("</", "<\\/")
    return _PAGE.replace("__TITLE__", html.escape(title)).replace("__DATA__", data)


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>__TITLE__</title>
<style>
body { font: 15px/1.6 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #222;
       padding: 0 1rem; }
h1 { font-size: 1.3rem; } h2 { font-size: 1.05rem; margin: 0 0 .4rem; }
.case { border: 1px solid #ddd; border-radius: 6px; padding: .8rem 1rem; margin: 1rem 0; }
.tokens span { padding: 1px 3px; margin: 1px; border-radius: 3px; display: inline-block; }
.meta { color: #555; font-size: .9rem; }
table.top { border-collapse: collapse; font-size: .85rem; margin-top: .5rem; }
table.top td, table.top th { padding: 1px 8px; text-align: left; }
.grid { border-collapse: collapse; margin-top: .4rem; }
.grid td { width: 10px; height: 14px; padding: 0; }
.memory td { width: 16px; height: 16px; } .memory td.meta { width: auto; padding-right: 6px; }
.memory th { font-weight: normal; font-size: .75rem; writing-mode: vertical-rl;
             transform: rotate(180deg); padding: 2px 0; }
.legend span { padding: 0 6px; border-radius: 3px; }
</style></head>
<body>
<h1>__TITLE__</h1>
<p class="meta">Each part's exact share of the chosen output's logit: the shares and the
constant add up to the logit. <span class="legend"><span style="background:#f4a6a6">for</span>
<span style="background:#a9c4f4">against</span></span></p>
<p><label>Output: <select id="output"></select></label>
<span class="meta">(the predicted one unless you choose)</span></p>
<div id="cases"></div>
<script type="application/json" id="data">__DATA__</script>
<script>
const data = JSON.parse(document.getElementById("data").textContent);
const select = document.getElementById("output");
const names = [...new Set(data.records.flatMap(r => r.class_names))];
select.append(new Option("predicted", ""));
for (const n of names) select.append(new Option(n, n));
function shade(v, scale) {
  const a = Math.min(1, Math.abs(v) / (scale || 1)) * 0.75;
  return v >= 0 ? `rgba(220,40,40,${a})` : `rgba(40,90,220,${a})`;
}
function flat(r) {  // [parts][outputs], with a label per part
  if (r.tokens) return {labels: r.tokens, values: r.contributions};
  const labels = [], values = [];
  r.contributions.forEach((step, s) => step.forEach((cell, c) => {
    labels.push(`step ${s}, channel ${c}`); values.push(cell); }));
  return {labels, values};
}
function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}
function draw() {
  const root = document.getElementById("cases");
  root.replaceChildren();
  data.records.forEach((r, i) => {
    let k = r.class_names.indexOf(select.value);
    if (k < 0) k = r.class_names.indexOf(r.predicted);
    const box = el("div", undefined, "case");
    box.append(el("h2", `${i + 1}. ${r.input}`));
    box.append(el("div", `predicted ${r.predicted}; showing ${r.class_names[k]}: logit ` +
      `${r.logits[k].toFixed(3)} = shares ${(r.logits[k] - r.constant[k]).toFixed(3)} ` +
      `+ constant ${r.constant[k].toFixed(3)}`, "meta"));
    const {labels, values} = flat(r);
    const scale = Math.max(...values.map(v => Math.abs(v[k])), 1e-9);
    if (r.tokens) {
      const line = el("div", undefined, "tokens");
      labels.forEach((t, j) => {
        const s = el("span", t);
        s.style.background = shade(values[j][k], scale);
        s.title = `${values[j][k] >= 0 ? "+" : ""}${values[j][k].toFixed(4)}`;
        line.append(s);
      });
      box.append(line);
    } else {
      const grid = el("table", undefined, "grid");
      const channels = r.contributions[0].length;
      for (let c = 0; c < channels; c++) {
        const row = el("tr");
        row.append(el("td", `c${c}`, "meta"));
        r.contributions.forEach((step, s) => {
          const cell = el("td");
          cell.style.background = shade(step[c][k], scale);
          cell.title = `step ${s}, channel ${c}: ${step[c][k].toFixed(4)}`;
          row.append(cell);
        });
        grid.append(row);
      }
      box.append(grid);
    }
    if (r.memory) {
      box.append(el("div", "memory kernel: how strongly each token (column) weighs in the " +
        "state at each later token (row), each row scaled to its largest", "meta"));
      const grid = el("table", undefined, "grid memory");
      const head = el("tr");
      head.append(el("td"));
      r.tokens.forEach(t => head.append(el("th", t)));
      grid.append(head);
      r.memory.forEach((row, t) => {
        const line = el("tr");
        line.append(el("td", r.tokens[t], "meta"));
        const top = Math.max(...row, 1e-12);
        row.forEach((value, s) => {
          const cell = el("td");
          cell.style.background = `rgba(30,120,60,${(0.85 * value / top).toFixed(3)})`;
          cell.title = `${r.tokens[s]} in the state at ${r.tokens[t]}: ${value.toFixed(4)}`;
          line.append(cell);
        });
        grid.append(line);
      });
      box.append(grid);
    }
    const table = el("table", undefined, "top");
    const head = el("tr");
    head.append(el("th", "output"), el("th", "top parts (share of its logit)"));
    table.append(head);
    r.class_names.forEach((name, o) => {
      const order = values.map((v, j) => j).sort((a, b) => values[b][o] - values[a][o]);
      const row = el("tr");
      row.append(el("td", name), el("td", order.slice(0, 5).map(
        j => `${labels[j]} ${values[j][o] >= 0 ? "+" : ""}${values[j][o].toFixed(2)}`)
        .join(", ")));
      table.append(row);
    });
    box.append(table);
    root.append(box);
  });
}
select.addEventListener("change", draw);
draw();
</script>
</body></html>
"""
