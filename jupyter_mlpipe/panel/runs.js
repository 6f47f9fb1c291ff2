// jupyter-mlpipe runs table: pick two runs to see what differs (computed in Python).
// The statuses' icons come from Python too (trait `looks`, from jupyter_mlpipe/vocab.py).
// The metric charts (`updateCharts`) come from chart.js, which widget.py puts before this file.
const MAX_METRIC_COLUMNS = 8;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
  }
  return node;
}

function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined || !isFinite(seconds)) return "–";
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m} min ${String(Math.floor(seconds % 60)).padStart(2, "0")} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
}

function fmtValue(v) {
  if (v === null || v === undefined) return "–";
  if (typeof v === "number") {
    if (Number.isInteger(v)) return String(v);
    const a = Math.abs(v);
    return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(3) : v.toPrecision(4).replace(/\.?0+$/, "");
  }
  return typeof v === "string" ? v : JSON.stringify(v);
}

function fmtTime(epoch) {
  if (!epoch) return "–";
  const d = new Date(epoch * 1000);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function render({ model, el: host }) {
  const icon = (status) => {
    const looks = model.get("looks") || {};
    return Object.prototype.hasOwnProperty.call(looks, status) ? looks[status].icon : "";
  };
  const root = el("div", { class: "mlpw-root mlpw-runs", "data-testid": "mlpipe-runs-table" });
  const head = el("div", { class: "mlpw-runline" });
  const wrap = el("div", { class: "mlpw-table-wrap" });
  const compare = el("div", { class: "mlpw-compare", "aria-live": "polite" });
  const compareCharts = el("div", { class: "mlpw-metrics", "data-role": "curves" });
  root.append(head, wrap, compare);
  host.appendChild(root);

  // the result column sorts the table: best first, worst first, then back to newest first
  let sortOrder = null;
  function cycleSort(best) {
    const worst = best === "asc" ? "desc" : "asc";
    sortOrder = sortOrder === null ? best : sortOrder === best ? worst : null;
    drawTable();
  }

  function pick(id) {
    let selected = [...(model.get("selected") || [])];
    if (selected.includes(id)) selected = selected.filter((x) => x !== id);
    else selected = [...selected, id].slice(-2);
    model.set("selected", selected);
    model.save_changes();
  }

  function drawTable() {
    const rows = model.get("rows") || [];
    const selected = model.get("selected") || [];
    head.replaceChildren(el("span", { class: "mlpw-title" }, `${rows.length} runs`),
      el("span", { class: "mlpw-muted" }, "choose two runs to see what differs"));
    if (!rows.length) { wrap.replaceChildren(el("div", { class: "mlpw-muted", style: "padding: 8px" }, "No runs yet: %pipeline run starts one.")); return; }
    const params = [...new Set(rows.flatMap((r) => Object.keys(r.params || {})))];
    // the result column: the metric Python chose (--metric, else the last step's final metric), first
    const result = (rows.find((r) => r.result && r.result.metric) || {}).result || null;
    const metrics = [...new Set(rows.flatMap((r) => Object.keys(r.metrics || {})))]
      .filter((m) => !result || m !== result.metric).slice(0, MAX_METRIC_COLUMNS - (result ? 1 : 0));
    let shown = rows;
    if (result && sortOrder) {
      const sign = sortOrder === "asc" ? 1 : -1;
      const valueOf = (r) => (r.metrics || {})[result.metric];
      shown = [...rows].sort((a, b) => {
        const va = valueOf(a), vb = valueOf(b);
        const missA = va === null || va === undefined, missB = vb === null || vb === undefined;
        if (missA || missB) return missA - missB; // runs without it last
        return sign * (va - vb);
      });
    }
    const arrow = sortOrder === "asc" ? " ▲" : sortOrder === "desc" ? " ▼" : "";
    const resultHead = result ? el("th", {
      class: "mlpw-result", "data-role": "result", role: "button", tabindex: 0, style: "cursor: pointer",
      "aria-sort": sortOrder === "asc" ? "ascending" : sortOrder === "desc" ? "descending" : "none",
      title: `result: the last value of ${result.metric} (click to sort, ${result.best === "asc" ? "lowest" : "highest"} first)`,
      onclick: () => cycleSort(result.best),
      onkeydown: (ev) => { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); cycleSort(result.best); } },
    }, `${result.metric}${arrow}`) : null;
    const header = el("tr", {}, el("th", {}, ""), el("th", {}, "run"), el("th", {}, "started"), el("th", {}, "status"),
      el("th", {}, "duration"), el("th", { title: "steps reused / steps in the run" }, "reused"), resultHead,
      params.map((p) => el("th", { title: "parameter" }, p)), metrics.map((m) => el("th", { title: "last value" }, m)));
    const body = shown.map((r) => {
      const picked = selected.includes(r.id);
      const total = Object.values(r.counts || {}).reduce((a, b) => a + b, 0);
      return el("tr", { class: picked ? "mlpw-picked" : null, "data-run": r.id, onclick: () => pick(r.id) },
        el("td", {}, el("input", { type: "checkbox", "aria-label": `compare run ${r.id}`, checked: picked ? "checked" : null,
          onclick: (ev) => { ev.stopPropagation(); pick(r.id); } })),
        el("td", {}, r.id), el("td", {}, fmtTime(r.started)),
        el("td", {}, `${icon(r.status)} ${r.status}`), el("td", {}, fmtDuration(r.duration)),
        el("td", {}, `${r.reused}/${total}`),
        result ? el("td", { class: "mlpw-result", style: "font-weight: 600" }, fmtValue((r.metrics || {})[result.metric])) : null,
        params.map((p) => el("td", {}, p in (r.params || {}) ? fmtValue(r.params[p]) : "–")),
        metrics.map((m) => el("td", {}, fmtValue((r.metrics || {})[m]))));
    });
    wrap.replaceChildren(el("table", {}, el("thead", {}, header), el("tbody", {}, body)));
  }

  function drawComparison() {
    const selected = model.get("selected") || [];
    const c = model.get("comparison") || {};
    if (selected.length !== 2) { compare.replaceChildren(); updateCharts(compareCharts, []); return; }
    if (!(selected.includes(c.a) && selected.includes(c.b) && c.a !== c.b)) { compare.replaceChildren(el("span", { class: "mlpw-muted" }, "comparing… (the kernel answers when it is idle)")); return; }
    const parts = [el("div", {}, el("b", {}, `${c.a}`), " → ", el("b", {}, `${c.b}`))];
    const params = Object.entries(c.params || {});
    parts.push(el("h4", {}, "Parameters"));
    parts.push(params.length ? el("table", {}, el("tbody", {}, params.map(([k, [a, b]]) =>
      el("tr", { class: "mlpw-diff" }, el("td", {}, k), el("td", {}, fmtValue(a)), el("td", {}, "→"), el("td", {}, fmtValue(b))))))
      : el("div", { class: "mlpw-muted" }, "same parameters"));
    const metrics = Object.entries(c.metrics || {});
    parts.push(el("h4", {}, "Metrics (last values)"));
    parts.push(metrics.length ? el("table", {}, el("tbody", {}, metrics.map(([k, [a, b, d]]) =>
      el("tr", {}, el("td", {}, k), el("td", {}, fmtValue(a)), el("td", {}, "→"), el("td", {}, fmtValue(b)),
        el("td", { class: "mlpw-muted" }, d === null || d === undefined ? "" : `(${d > 0 ? "+" : ""}${fmtValue(d)})`)))))
      : el("div", { class: "mlpw-muted", "data-role": "metrics-same" }, !c.metrics_same || c.metrics_same.length
        ? "same metrics" : "neither run logged a metric (log_metric(NAME, VALUE) in a step records one)"));
    // the same metric across the two runs, a chart each (kept across redraws: a chart keeps its hover)
    const curves = Object.entries(c.curves || {}).map(([key, { a, b }]) => ({
      key, yLabel: key, head: key, series: [{ label: c.a, points: a || [] }, { label: c.b, points: b || [] }],
    }));
    if (curves.length) {
      parts.push(el("h4", {}, "Metric curves"));
      parts.push(updateCharts(compareCharts, curves));
    } else updateCharts(compareCharts, []);
    const steps = Object.entries(c.steps || {});
    parts.push(el("h4", {}, "Steps"));
    parts.push(el("table", {}, el("tbody", {}, steps.map(([name, [a, b]]) =>
      el("tr", { class: a !== b ? "mlpw-diff" : null }, el("td", {}, name),
        el("td", {}, a ? `${icon(a)} ${a}` : "not in run"), el("td", {}, "→"),
        el("td", {}, b ? `${icon(b)} ${b}` : "not in run"))))));
    compare.replaceChildren(...parts);
  }

  const onRows = () => { drawTable(); drawComparison(); };
  const onSelected = () => { drawTable(); drawComparison(); };
  model.on("change:rows", onRows);
  model.on("change:selected", onSelected);
  model.on("change:comparison", drawComparison);
  onRows();
  return () => {
    model.off("change:rows", onRows);
    model.off("change:selected", onSelected);
    model.off("change:comparison", drawComparison);
    updateCharts(compareCharts, []);
  };
}

export default { render };
