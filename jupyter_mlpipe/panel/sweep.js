// jupyter-mlpipe sweep table: the trials of a sweep fill in live; the best one is marked; each row has
// its metric curve. All state comes from Python (traits `sweep`, `trials`, `looks`; panel/sweep_state.py).

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
  }
  return node;
}

function fmt(v) {
  if (v === null || v === undefined) return "–";
  if (typeof v === "number") {
    if (Number.isInteger(v)) return String(v);
    const a = Math.abs(v);
    return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(3) : v.toPrecision(4).replace(/\.?0+$/, "");
  }
  return typeof v === "string" ? v : JSON.stringify(v);
}

const SVG = "http://www.w3.org/2000/svg";

function sparkline(curve, color) {
  const points = (curve || []).filter((p) => p[1] !== null && p[1] !== undefined);
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("width", "90");
  svg.setAttribute("height", "20");
  svg.setAttribute("class", "mlpw-sweep-curve");
  if (points.length < 2) return svg;
  const ys = points.map((p) => p[1]);
  const lo = Math.min(...ys), hi = Math.max(...ys), span = hi - lo || 1;
  const d = points.map((p, i) => `${(i / (points.length - 1)) * 88 + 1},${19 - ((p[1] - lo) / span) * 18}`);
  const line = document.createElementNS(SVG, "polyline");
  line.setAttribute("points", d.join(" "));
  line.setAttribute("fill", "none");
  line.setAttribute("stroke", color);
  line.setAttribute("stroke-width", "1.5");
  svg.appendChild(line);
  return svg;
}

function render({ model, el: host }) {
  const root = el("div", { class: "mlpw-root mlpw-sweep", "data-testid": "mlpipe-sweep-table" });
  host.appendChild(root);

  function draw() {
    const sweep = model.get("sweep") || {};
    const trials = model.get("trials") || [];
    const looks = model.get("looks") || {};
    root.replaceChildren();
    const planned = sweep.planned ? `/${sweep.planned}` : "";
    const saved = sweep.steps_saved === null || sweep.steps_saved === undefined ? "" :
      `, ${sweep.steps_saved} step runs saved`;
    const shared = (sweep.shared_steps || []).length ?
      ` · shared steps (${sweep.shared_steps.join(", ")}) run once${saved}` : "";
    root.appendChild(el("div", { class: "mlpw-sweep-head" },
      el("b", {}, `sweep ${sweep.id || ""}`), ` ${sweep.status || ""} · ${sweep.metric || ""} (${sweep.goal || ""})`,
      ` · ${sweep.search || ""} · ${sweep.finished || 0}${planned} trials${shared}`));
    const names = [...new Set(trials.flatMap((t) => Object.keys(t.params || {})))];
    const head = el("tr", {}, el("th", {}, "#"), names.map((n) => el("th", {}, n)), el("th", {}, "status"),
      el("th", {}, sweep.metric || "metric"), el("th", {}, "curve"), el("th", {}, "run"));
    const rows = trials.map((t) => {
      const look = looks[t.status] || { icon: "?", label: t.status, color: "#57606a" };
      return el("tr", { class: t.best ? "mlpw-sweep-best" : null, "data-trial": t.number, "data-status": t.status },
        el("td", {}, t.best ? `★ ${t.number}` : String(t.number)),
        names.map((n) => el("td", {}, fmt((t.params || {})[n]))),
        el("td", { style: `color:${look.color}`, title: t.error || look.label }, `${look.icon} ${look.label}`),
        el("td", { class: "mlpw-sweep-metric" }, fmt(t.metric)),
        el("td", {}, sparkline(t.curve, look.color)),
        el("td", { title: t.run_id || "" }, t.run_id ? t.run_id.slice(-6) : "–"));
    });
    root.appendChild(el("table", { class: "mlpw-sweep-table" }, el("thead", {}, head), el("tbody", {}, rows)));
    if (sweep.error) root.appendChild(el("pre", { class: "mlpw-sweep-error" }, sweep.error));
  }

  draw();
  model.on("change:sweep", draw);
  model.on("change:trials", draw);
  return () => root.remove();
}

export default { render };
