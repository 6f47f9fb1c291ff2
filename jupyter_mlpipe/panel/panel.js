// jupyter-mlpipe run panel: an anywidget ES module (no build step); widget.py puts uPlot and chart.js
// (`metricChart`, `updateCharts`) before it in the same module.
// The layout comes from Python (trait `graph`: boxes, edge paths, label places) and the
// statuses' icons and labels too (trait `looks`, from jupyter_mlpipe/vocab.py); this file
// only draws them and keeps them current from the traits `states`, `run` and `metrics`.

const SVG_NS = "http://www.w3.org/2000/svg";
const ORDER = ["running", "succeeded", "reused", "failed", "skipped", "cancelled", "pending"];
// Zoom never makes text smaller than MIN_TEXT px: the graph's smallest text is SMALLEST_FONT px
// (panel.css: a node's second line, the edge labels), so the zoom stays at or above their ratio.
export const MIN_TEXT = 11;
export const SMALLEST_FONT = 12;
export const MIN_ZOOM = MIN_TEXT / SMALLEST_FONT;
export const MAX_ZOOM = 2;
const DRAWER_W = 360; // the step details beside the graph need this much room, else they go below it

// The layout to draw in `width` px: left to right, or top to bottom (graph.TB) where that needs less
// shrinking; and the zoom that fits it (never under MIN_ZOOM: what still does not fit is panned).
export function chooseLayout(graph, width) {
  const options = [graph, graph && graph.TB].filter((g) => g && g.nodes);
  if (!options.length) return { layout: { nodes: [], edges: [], width: 0, height: 0 }, zoom: 1 };
  if (!width || !isFinite(width)) return { layout: options[0], zoom: 1 };
  const fits = options.map((g) => Math.min(1, width / Math.max(g.width, 1)));
  const pick = fits.length > 1 && fits[1] > fits[0] + 1e-6 ? 1 : 0;
  return { layout: options[pick], zoom: clampZoom(fits[pick]) };
}

export function clampZoom(z) {
  return Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, z));
}

export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  setAttrs(node, attrs);
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  setAttrs(node, attrs);
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
  }
  return node;
}

function setAttrs(node, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, String(value));
  }
}

export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined || !isFinite(seconds)) return "";
  if (seconds < 0) seconds = 0;
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m} min ${String(Math.floor(seconds % 60)).padStart(2, "0")} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
}

export function fmtSize(bytes) {
  if (bytes === null || bytes === undefined) return "";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let i = 0;
  while (value >= 1024 && i < units.length - 1) { value /= 1024; i += 1; }
  return i === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[i]}`;
}

export function fmtNumber(v) {
  if (v === null || v === undefined) return "–";
  if (typeof v !== "number") return String(v);
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(3) : v.toPrecision(4).replace(/\.?0+$/, "");
}

function truncate(text, max) {
  text = String(text ?? "");
  return text.length <= max ? text : text.slice(0, max - 1) + "…";
}

// Where a step's executed notebook opens: the read-only `mlpipe:` drive of the jupyter-mlpipe
// extension, as lab/tree/mlpipe:RUN/STEP.ipynb in JupyterLab or notebooks/mlpipe:RUN/STEP.ipynb in
// Notebook 7 (the notebooks live in the hidden .mlpipe folder, which Jupyter's Contents API will
// not serve). Null where no Jupyter page with the extension is around (VS Code, a static page):
// the panel shows the file's path instead.
export function notebookHref(runId, step, configText) {
  if (!runId || !step || !configText) return null;
  let config;
  try {
    config = JSON.parse(configText);
  } catch (e) {
    return null;
  }
  const extensions = config.federated_extensions || [];
  if (!extensions.some((x) => x && x.name === "jupyter-mlpipe")) return null;
  let base = config.baseUrl || "/";
  if (!base.endsWith("/")) base += "/";
  const appName = config.appName || "";
  const route = /notebook/i.test(appName) && !/lab/i.test(appName) ? "notebooks" : "lab/tree";
  return `${base}${route}/mlpipe:${encodeURIComponent(runId)}/${encodeURIComponent(step)}.ipynb`;
}

// The charts of metric names: [{key, head, yLabel, series: [{label: step, points}]}], one per name, each
// with the series of every step that logs it (`first` leads, then the graph's order); a step's details
// show only the names it logs (`only`), with its last value in the head.
export function metricSpecs(metrics, order, first = null, only = null) {
  const steps = [...new Set([first, ...order, ...Object.keys(metrics || {})])].filter((s) => s && (metrics || {})[s]);
  const names = only ? Object.keys(metrics[only] || {}) : [...new Set(steps.flatMap((s) => Object.keys(metrics[s])))];
  return names.map((m) => {
    const series = steps.filter((s) => metrics[s][m]).map((s) => ({ label: s, points: metrics[s][m] }));
    const mine = only ? metrics[only][m] : null;
    const last = mine && mine.length ? mine[mine.length - 1][1] : null;
    return { key: m, yLabel: m, series, head: only ? `${m} = ${fmtNumber(last)}` : m };
  });
}

// The look of a status ({icon, label, color}); an unknown one reads as itself with a `?`.
export function fanoutText(f) {
  if (f.phase === "split" && !f.total) return "splitting its elements…";
  const parts = [`${f.done} done${f.reused ? ` (${f.reused} reused)` : ""}`];
  if (f.running) parts.push(`${f.running} running`);
  if (f.failed) parts.push(`${f.failed} failed`);
  return `${f.total} elements: ${parts.join(", ")}`;
}

export function lookOf(looks, status) {
  const look = (looks || {})[status];
  return look && Object.prototype.hasOwnProperty.call(looks, status) ? look : { icon: "?", label: String(status) };
}

// `full` in an SVG text, cut with … to `maxWidth` px where the browser can measure it.
function fitText(text, full, maxWidth) {
  text.textContent = full;
  if (typeof text.getComputedTextLength !== "function") return;
  try {
    let width = text.getComputedTextLength();
    if (!width || width <= maxWidth) return;
    let n = Math.max(1, Math.floor((full.length * maxWidth) / width));
    text.textContent = full.slice(0, n) + "…";
    while (n > 1 && text.getComputedTextLength() > maxWidth) {
      n -= 1;
      text.textContent = full.slice(0, n) + "…";
    }
  } catch (e) {
    text.textContent = full; // not rendered (yet): measured again at the next update
  }
}

function stateOf(states, name, looks) {
  if (states[name]) return states[name];
  const look = lookOf(looks, "excluded");
  return { status: "excluded", icon: look.icon, label: look.label };
}

// A collapsed module's status: the first of `order` (the layout's `status_order`, from vocab.py) that
// any of its steps has; a status the order does not know counts after all it knows.
// The binding node (members[0]) runs no task: its `succeeded` would hide that every step was reused,
// so it counts only when it did not succeed (docs/modules.md).
export function moduleStatus(states, members, order) {
  const all = (members || []).map((m) => ((states || {})[m] || { status: "excluded" }).status);
  const seen = all.length > 1 && all[0] === "succeeded" ? all.slice(1) : all;
  for (const status of order || []) if (seen.includes(status)) return status;
  return seen[0] || "excluded";
}

// The colour that marks a module's steps while it is open: one of a few, by its name (never a status's).
// hues the statuses do not use (blue, green, purple, red, amber, grey): cyan, fuchsia, teal, orange
const MODULE_COLOURS = ["#0891b2", "#c026d3", "#0f766e", "#ea580c"];
export function moduleColour(name) {
  let h = 0;
  for (const ch of String(name)) h = (h * 31 + ch.codePointAt(0)) >>> 0;
  return MODULE_COLOURS[h % MODULE_COLOURS.length];
}

// "lib/features.ipynb v3" (a published module's label says its version already: "features@3")
export function moduleLabel(info) {
  const label = String(info.label || "");
  return info.version !== null && info.version !== undefined && !label.includes("@") ? `${label} v${info.version}` : label;
}

const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

function render({ model, el: host }) {
  const root = el("div", { class: "mlpw-root", "data-testid": "mlpipe-run-panel" });
  const runLine = el("div", { class: "mlpw-runline", "data-testid": "mlpipe-runline" });
  // announced to screen readers only when the run's status changes, not at every tick
  const announce = el("span", { class: "mlpw-sr-only", role: "status", "aria-live": "polite" });
  // the graph's viewport: it scrolls (drag, wheel, scroll bars) what does not fit at the zoom shown
  const graphWrap = el("div", { class: "mlpw-graph", "data-testid": "mlpipe-graph" });
  // the step details: a drawer below the graph, or beside it when there is room (mlpw-beside)
  const details = el("div", { class: "mlpw-details", "data-testid": "mlpipe-step-details" });
  const body = el("div", { class: "mlpw-body" }, graphWrap, details);
  // the step's metric charts (kept across updates: a chart keeps its hover while points stream in)
  const detailCharts = el("div", { class: "mlpw-metrics" });
  // the run's metrics below the graph, a chart per name with every step that logs it (`metrics_open`)
  const curveCharts = el("div", { class: "mlpw-metrics" });
  const curvesTitle = el("summary", {}, "Metrics");
  const curves = el("details", { class: "mlpw-curves", "data-testid": "mlpipe-run-metrics" }, curvesTitle, curveCharts);
  curves.hidden = true;
  if (model.get("metrics_open")) curves.setAttribute("open", "open");
  root.append(announce, runLine, body, curves);
  host.appendChild(root);

  let clockOffset = 0; // browser clock minus kernel clock
  let nodeEls = {};
  let edgeEls = [];
  let canvas = null;
  // the layout drawn (left to right or top to bottom), its zoom; auto: re-fitted when the room changes
  const view = { layout: null, zoom: 1, auto: true };
  let detailsKey = null;
  const arrowId = `mlpw-arrow-${Math.random().toString(36).slice(2, 10)}`;

  const now = () => Date.now() / 1000 - clockOffset;
  const looks = () => model.get("looks") || {};
  const iconOf = (st) => st.icon || lookOf(looks(), st.status).icon;
  const syncClock = () => {
    const run = model.get("run") || {};
    if (run.now) clockOffset = Date.now() / 1000 - run.now;
  };

  function timeText(st) {
    if (st.status === "running" && st.elapsed_since) return fmtDuration(now() - st.elapsed_since);
    if (st.status === "reused") return st.reason && st.reason.from_run ? `from ${String(st.reason.from_run).slice(-6)}` : "";
    if (st.duration !== null && st.duration !== undefined) return fmtDuration(st.duration);
    return "";
  }
  // "reused from 3f9a1c" (the run that made its outputs; it took no time in this one), "succeeded · 1.2 s"
  const withTime = (label, st, time) => (time ? `${label}${st.status === "reused" ? " " : " · "}${time}` : label);

  function select(name) {
    model.set("selected", model.get("selected") === name ? null : name);
    model.save_changes();
  }

  // a module's toggle: the kernel redraws the graph with it open (trait `expanded`), or closed again
  function toggleModule(name) {
    const open = new Set(model.get("expanded") || []);
    const selected = model.get("selected");
    if (open.has(name)) {
      open.delete(name);
      // a step of it was selected: its details become the module's (the step is no longer drawn)
      if (selected && selected.startsWith(`${name}.`)) model.set("selected", name);
    } else open.add(name);
    model.set("expanded", [...open]);
    model.save_changes();
  }

  // a step in a module's details: open every module around it (names that are not modules are ignored
  // by the kernel's layout) and select the step
  function openAt(step) {
    const open = new Set(model.get("expanded") || []);
    const parts = step.split(".");
    for (let i = 1; i < parts.length; i++) open.add(parts.slice(0, i).join("."));
    model.set("expanded", [...open]);
    model.set("selected", step);
    model.save_changes();
  }

  // what a node shows: its step's state, or for a collapsed module the status of its steps (moduleStatus)
  function shownState(node, states) {
    const own = stateOf(states, node.name, looks());
    if (!node.module || node.module.expanded) return own;
    const order = (view.layout && view.layout.status_order) || (model.get("graph") || {}).status_order;
    const status = moduleStatus(states, node.module.members, order);
    const look = lookOf(looks(), status);
    return { status, icon: look.icon, label: look.label, error: own.error, inputs: own.inputs, aggregate: true };
  }

  // "1 failed, 2 succeeded": a module's steps by status, in the order of `status_order`
  function memberCounts(node, states) {
    const counts = {};
    for (const m of node.module.members) {
      const status = stateOf(states, m, looks()).status;
      counts[status] = (counts[status] || 0) + 1;
    }
    const order = [...((view.layout || {}).status_order || []), ...Object.keys(counts)];
    return [...new Set(order)].filter((s) => counts[s]).map((s) => `${counts[s]} ${lookOf(looks(), s).label}`).join(", ");
  }

  // the room the panel has (0 before it is on the page, and without a browser: drawn at 100%)
  const roomWidth = () => Math.max(0, (root.clientWidth || 0) - 2);

  // ▸ expand / ▾ collapse, at the top right of a module's node: clicking it does not select the node
  function moduleToggle(node, x, y) {
    const mod = node.module;
    const what = `${plural(mod.count, "step")} of ${moduleLabel(mod)}`;
    const label = mod.expanded ? `collapse: ${node.name} as one node` : `expand: ${what}`;
    const act = (ev) => { ev.stopPropagation(); ev.preventDefault(); toggleModule(node.name); };
    return svg("g", {
      class: "mlpw-toggle", "data-role": "module-toggle", role: "button", tabindex: 0, "aria-label": label,
      "aria-expanded": mod.expanded ? "true" : "false",
      onclick: act, onpointerdown: (ev) => ev.stopPropagation(),
      onkeydown: (ev) => { if (ev.key === "Enter" || ev.key === " ") act(ev); else ev.stopPropagation(); },
    },
      svg("title", {}, label),
      svg("rect", { x, y, width: 20, height: 20, rx: 4 }),
      svg("text", { x: x + 10, y: y + 15, "text-anchor": "middle" }, mod.expanded ? "▾" : "▸"));
  }

  function drawGraph() {
    const chosen = chooseLayout(model.get("graph"), roomWidth());
    const graph = chosen.layout;
    view.layout = graph;
    if (view.auto) view.zoom = chosen.zoom;
    graphWrap.replaceChildren();
    nodeEls = {};
    edgeEls = [];
    canvas = null;
    if (!graph.nodes.length) {
      graphWrap.appendChild(el("div", { class: "mlpw-muted", style: "padding: 8px" }, "No steps: mark cells with %%step."));
      return;
    }
    canvas = svg("svg", {
      width: graph.width, height: graph.height, viewBox: `0 0 ${graph.width} ${graph.height}`,
      role: "group", "aria-label": `pipeline graph, ${graph.nodes.length} steps`, "data-direction": graph.direction || "LR",
    });
    const edgeLayer = svg("g", { class: "mlpw-edges" });
    const labelLayer = svg("g", { class: "mlpw-labels" });
    for (const edge of graph.edges) {
      const g = svg("g", { class: "mlpw-edge", "data-from": edge.from, "data-to": edge.to });
      g.appendChild(svg("path", { d: edge.path, "marker-end": `url(#${arrowId})` }));
      g.appendChild(svg("title", {}, `${edge.from} → ${edge.to}: ${edge.variables.join(", ")}`));
      edgeLayer.appendChild(g);
      const label = edge.label;
      let text = null;
      if (label && label.text) {
        text = svg("text", { x: label.x, y: label.y, "text-anchor": label.anchor },
          label.text, svg("title", {}, label.full));
        labelLayer.appendChild(svg("g", { class: "mlpw-edge" }, text));
      }
      edgeEls.push({ edge, g, label: text ? text.parentNode : null });
    }
    const defs = svg("defs", {},
      svg("marker", { id: arrowId, viewBox: "0 0 8 8", refX: 8, refY: 4, markerWidth: 7, markerHeight: 7, orient: "auto" },
        svg("path", { d: "M0,0 L8,4 L0,8 z", style: "fill: var(--mlpw-fg2); fill-opacity: 0.7" })));
    const nodeLayer = svg("g", { class: "mlpw-nodes" });
    for (const node of graph.nodes) {
      const { x, y, width: w, height: h } = node;
      const icon = svg("text", { x: x + 15, y: y + 21, class: "mlpw-icon", "text-anchor": "middle", "aria-hidden": "true" });
      const sub = svg("text", { x: x + 26, y: y + 39, class: "mlpw-sub" });
      const nameText = svg("text", { x: x + 26, y: y + 21, class: "mlpw-name" }, truncate(node.name, 21));
      const title = svg("title", {});
      const fanBar = svg("g", { class: "mlpw-fanout-bar", "data-role": "fanout-progress" });
      const fanCount = svg("text", { x: x + w - 8, y: y + 21, class: "mlpw-fanout-count", "text-anchor": "end", "data-role": "fanout-count" });
      const mod = node.module || null;
      // a collapsed module: a second box behind its own (a stack of steps); inside an open module: an
      // outline in that module's colour (dashed), the open module's own node with a solid one
      const stack = mod && !mod.expanded ? svg("rect", { class: "mlpw-stack", x: x + 4, y: y - 4, width: w, height: h, rx: 5 }) : null;
      const ring = mod && mod.expanded ? node.name : node.group;
      const outline = ring ? svg("rect", { class: "mlpw-group", x: x - 4, y: y - 4, width: w + 8, height: h + 8, rx: 8,
        style: `stroke: ${moduleColour(ring)}`, "data-module": ring }) : null;
      const toggle = mod ? moduleToggle(node, x + w - 26, y + 6) : null;
      const g = svg("g", {
        class: "mlpw-node", tabindex: 0, role: "button", "data-step": node.name,
        "data-group": node.group || null, "data-module": mod ? (mod.expanded ? "open" : "collapsed") : null,
        onclick: () => select(node.name),
        onkeydown: (ev) => { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); select(node.name); } },
        onmouseenter: () => highlight(node.name, true),
        onmouseleave: () => highlight(node.name, false),
      },
        title, stack, outline,
        svg("rect", { class: "mlpw-box", x, y, width: w, height: h, rx: 5 }),
        svg("rect", { class: "mlpw-band", x: x + 1, y: y + 1, width: 5, height: h - 2, rx: 2 }),
        icon,
        nameText, fanCount, sub, fanBar, toggle);
      nodeLayer.appendChild(g);
      nodeEls[node.name] = { node, g, icon, sub, title, fanBar, nameText, fanCount };
    }
    canvas.append(defs, edgeLayer, nodeLayer, labelLayer);
    graphWrap.appendChild(canvas);
    applyZoom();
    updateNodes();
  }

  // ---- zoom and pan: the SVG is drawn at zoom × its size inside the scrolling viewport
  function applyZoom() {
    const graph = view.layout;
    if (canvas && graph) {
      canvas.setAttribute("width", Math.round(graph.width * view.zoom));
      canvas.setAttribute("height", Math.round(graph.height * view.zoom));
    }
    graphWrap.setAttribute("data-zoom", view.zoom.toFixed(3));
    const level = runLine.querySelector('[data-role="zoom-level"]');
    if (level) level.textContent = `${Math.round(view.zoom * 100)}%`;
    const out = runLine.querySelector('[data-role="zoom-out"]');
    if (out) out.disabled = view.zoom <= MIN_ZOOM + 1e-3;
    const zin = runLine.querySelector('[data-role="zoom-in"]');
    if (zin) zin.disabled = view.zoom >= MAX_ZOOM - 1e-3;
    placeDrawer();
  }

  // zoom to z around (cx, cy), a point of the viewport (its middle by default)
  function zoomTo(z, cx, cy) {
    z = clampZoom(z);
    const old = view.zoom;
    view.auto = false;
    if (Math.abs(z - old) < 1e-4) return;
    if (cx === undefined) { cx = (graphWrap.clientWidth || 0) / 2; cy = (graphWrap.clientHeight || 0) / 2; }
    const gx = ((graphWrap.scrollLeft || 0) + cx) / old, gy = ((graphWrap.scrollTop || 0) + cy) / old;
    view.zoom = z;
    applyZoom();
    graphWrap.scrollLeft = gx * z - cx;
    graphWrap.scrollTop = gy * z - cy;
  }

  // fit: the layout that suits the panel's width, as large as fits (text never under MIN_TEXT px)
  function fitView() {
    view.auto = true;
    const chosen = chooseLayout(model.get("graph"), roomWidth());
    if (chosen.layout !== view.layout) drawGraph();
    else { view.zoom = chosen.zoom; applyZoom(); }
    graphWrap.scrollLeft = 0;
    graphWrap.scrollTop = 0;
    reveal(model.get("selected"));
  }

  // the drawer beside the graph when both fit side by side, else below it
  function placeDrawer() {
    const graph = view.layout;
    const room = roomWidth();
    const beside = Boolean(room && graph && model.get("selected") && room - graph.width * view.zoom >= DRAWER_W + 8);
    body.classList.toggle("mlpw-beside", beside);
  }

  // scroll the viewport (only as much as needed) so that a step's box is in view
  function reveal(name) {
    const entry = name && nodeEls[name];
    if (!entry || !graphWrap.clientWidth) return;
    const { x, y, width: w, height: h } = entry.node;
    const z = view.zoom, m = 8;
    const [left, top] = [x * z - m, y * z - m];
    const [right, bottom] = [(x + w) * z + m, (y + h) * z + m];
    if (left < graphWrap.scrollLeft) graphWrap.scrollLeft = left;
    else if (right > graphWrap.scrollLeft + graphWrap.clientWidth) graphWrap.scrollLeft = right - graphWrap.clientWidth;
    if (top < graphWrap.scrollTop) graphWrap.scrollTop = top;
    else if (bottom > graphWrap.scrollTop + graphWrap.clientHeight) graphWrap.scrollTop = bottom - graphWrap.clientHeight;
  }

  // drag the graph to pan (a click without moving still selects a step); Ctrl/⌘ + wheel zooms
  let drag = null;
  graphWrap.addEventListener("pointerdown", (ev) => {
    if (ev.button !== 0) return;
    drag = { id: ev.pointerId, x: ev.clientX, y: ev.clientY, left: graphWrap.scrollLeft, top: graphWrap.scrollTop, moved: false };
  });
  graphWrap.addEventListener("pointermove", (ev) => {
    if (!drag || ev.pointerId !== drag.id) return;
    const dx = ev.clientX - drag.x, dy = ev.clientY - drag.y;
    if (!drag.moved && Math.abs(dx) + Math.abs(dy) < 5) return;
    if (!drag.moved) {
      drag.moved = true;
      graphWrap.classList.add("mlpw-dragging");
      if (graphWrap.setPointerCapture) graphWrap.setPointerCapture(ev.pointerId);
    }
    graphWrap.scrollLeft = drag.left - dx;
    graphWrap.scrollTop = drag.top - dy;
  });
  let dragged = false; // the click that ends a drag selects nothing
  const endDrag = () => { dragged = Boolean(drag && drag.moved); drag = null; graphWrap.classList.remove("mlpw-dragging"); };
  graphWrap.addEventListener("click", (ev) => {
    if (dragged) { ev.stopPropagation(); dragged = false; }
  }, true);
  graphWrap.addEventListener("pointerup", endDrag);
  graphWrap.addEventListener("pointercancel", endDrag);
  graphWrap.addEventListener("wheel", (ev) => {
    if (!(ev.ctrlKey || ev.metaKey)) return; // a plain wheel scrolls, as anywhere in the notebook
    ev.preventDefault();
    const r = graphWrap.getBoundingClientRect();
    zoomTo(view.zoom * Math.exp(-ev.deltaY / 400), ev.clientX - r.left, ev.clientY - r.top);
  }, { passive: false });

  // the room changes (the notebook is resized, a sidebar opens): the layout that suits it, re-fitted
  let lastRoom = -1;
  function onResize() {
    const room = roomWidth();
    if (Math.abs(room - lastRoom) < 2) return;
    lastRoom = room;
    const chosen = chooseLayout(model.get("graph"), room);
    if (chosen.layout !== view.layout) drawGraph();
    else if (view.auto) { view.zoom = chosen.zoom; applyZoom(); updateNodes(); }
    else { placeDrawer(); updateNodes(); }
    reveal(model.get("selected"));
  }
  const resizeObserver = typeof ResizeObserver === "function" ? new ResizeObserver(() => onResize()) : null;
  if (resizeObserver) resizeObserver.observe(root);

  function highlight(name, on) {
    for (const { edge, g, label } of edgeEls) {
      const hot = on && (edge.from === name || edge.to === name);
      g.classList.toggle("mlpw-hot", hot);
      if (label) label.classList.toggle("mlpw-hot", hot);
    }
  }

  function updateNodes() {
    const states = model.get("states") || {};
    const selected = model.get("selected");
    for (const [name, { node, g, icon, sub, title, fanBar, nameText, fanCount }] of Object.entries(nodeEls)) {
      const st = shownState(node, states);
      if (node.module) {  // its name, its module's label below it, its status (of its steps, collapsed)
        const mod = node.module;
        g.setAttribute("class", `mlpw-node mlpw-module mlpw-state-${st.status}${selected === name ? " mlpw-selected" : ""}`);
        g.setAttribute("data-status", st.status);
        icon.textContent = iconOf(st);
        fitText(nameText, name, node.width - 34 - 24);
        fitText(sub, moduleLabel(mod), node.width - 32);
        title.textContent = mod.expanded
          ? `${name}: module ${moduleLabel(mod)}, open (${plural(mod.count, "step")}); binds its parameters: ${st.label || st.status}`
          : `${name}: module ${moduleLabel(mod)}, ${plural(mod.count, "step")}: ${st.label} (${memberCounts(node, states)})`;
        g.setAttribute("aria-label", title.textContent);
        g.setAttribute("aria-pressed", selected === name ? "true" : "false");
        continue;
      }
      g.setAttribute("class", `mlpw-node mlpw-state-${st.status}${selected === name ? " mlpw-selected" : ""}`);
      g.setAttribute("data-status", st.status);
      icon.textContent = iconOf(st);
      const gpus = node.num_gpus ? ` ×${node.num_gpus}` : "";
      const time = timeText(st);
      const f = st.fanout && st.fanout.total ? st.fanout : null;
      // a fan-out step: "done/total" at the right of its name line, in the failed colour when some failed
      fanCount.textContent = f ? `${f.done}/${f.total}` : "";
      fanCount.setAttribute("class", `mlpw-fanout-count${f && f.failed ? " mlpw-fanout-failed" : ""}`);
      fitText(nameText, node.name, node.width - 34 - (f ? 8 + 8 * fanCount.textContent.length : 0));
      fitText(sub, `${node.compute}${gpus} · ${withTime(st.label || st.status, st, time)}`, node.width - 32);
      title.textContent = `${name} (${node.compute}): ${withTime(st.label || st.status, st, time)}`;
      if (node.group) title.textContent += ` · in module ${node.group}`;
      drawFanout(fanBar, node, st.fanout);
      if (st.fanout) title.textContent += ` · ${fanoutText(st.fanout)}`;
      g.setAttribute("aria-label", title.textContent);
      g.setAttribute("aria-pressed", selected === name ? "true" : "false");
    }
  }

  function updateRunLine() {
    const run = model.get("run") || {};
    const graph = model.get("graph") || { nodes: [] };
    runLine.replaceChildren();
    root.setAttribute("data-run-id", run.id || "");
    root.setAttribute("data-run-status", run.id ? run.status || "" : "");
    // zoom: −, the level, +, fit (text never under MIN_TEXT px; what does not fit pans: drag, scroll)
    const fitButton = el("span", { class: "mlpw-zoom", role: "group", "aria-label": "zoom" },
      el("button", { type: "button", "data-role": "zoom-out", title: `zoom out (text stays at least ${MIN_TEXT} px)`,
        disabled: view.zoom <= MIN_ZOOM + 1e-3 ? "true" : null, onclick: () => zoomTo(view.zoom / 1.25) }, "−"),
      el("span", { class: "mlpw-zoom-level", "data-role": "zoom-level", title: "Ctrl + wheel zooms, drag pans" },
        `${Math.round(view.zoom * 100)}%`),
      el("button", { type: "button", "data-role": "zoom-in", title: "zoom in",
        disabled: view.zoom >= MAX_ZOOM - 1e-3 ? "true" : null, onclick: () => zoomTo(view.zoom * 1.25) }, "+"),
      el("button", { type: "button", "data-role": "fit",
        title: `fit the graph to the panel (text stays at least ${MIN_TEXT} px: drag or scroll to see the rest)`,
        onclick: () => fitView() }, "fit"));
    if (!run.id) {
      runLine.append(el("span", { class: "mlpw-title" }, "pipeline plan"),
        el("span", { class: "mlpw-muted" }, `${graph.nodes.length} steps, ${(graph.edges || []).length} edges, not run`
          + (graph.nodes.some((n) => n.module && !n.module.expanded) ? " (modules collapsed: ▸ opens one)" : "")),
        el("span", { class: "mlpw-spacer" }), fitButton);
      return;
    }
    const counts = run.counts || {};
    const total = run.total || 0;
    const statusIcon = Object.prototype.hasOwnProperty.call(looks(), run.status) ? looks()[run.status].icon : "";
    const spoken = `run ${run.id} ${run.status}`;
    if (announce.textContent !== spoken) announce.textContent = spoken;
    runLine.append(el("span", { class: "mlpw-title" }, `${statusIcon} run ${run.id} · ${run.status}`));
    runLine.append(el("span", { class: "mlpw-count" }, `${run.finished || 0}/${total} done`));
    for (const status of ORDER) {
      if (!counts[status]) continue;
      runLine.append(el("span", { class: `mlpw-count mlpw-chip mlpw-seg-${status}` },
        `${lookOf(looks(), status).icon} ${counts[status]} ${status}`));
    }
    const elapsed = run.status === "running" && run.started ? now() - run.started : run.elapsed;
    runLine.append(el("span", { class: "mlpw-elapsed", "data-role": "elapsed" }, fmtDuration(elapsed)));
    if (run.connecting) runLine.append(el("span", { class: "mlpw-muted", "data-role": "connecting" }, run.connecting));
    runLine.append(el("span", { class: "mlpw-spacer" }));
    if (run.status === "running") {  // the kernel's run stops its steps (Run.cancel), as Interrupt does
      const cancelling = Boolean(run.cancelling);
      runLine.append(el("button", {
        type: "button", class: "mlpw-cancel", "data-role": "cancel", disabled: cancelling ? "true" : null,
        title: `cancel run ${run.id}: its running steps stop, the rest do not start`,
        onclick: (ev) => { ev.currentTarget.disabled = true; model.send({ type: "cancel", run: run.id }); },
      }, cancelling ? "cancelling…" : "Cancel"));
    }
    runLine.append(fitButton);
    const bar = el("div", { class: "mlpw-progress", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": total, "aria-valuenow": run.finished || 0 });
    for (const status of ORDER) {
      if (!counts[status] || status === "pending") continue;
      bar.appendChild(el("div", { class: `mlpw-seg-${status}`, style: `width: ${(100 * counts[status]) / Math.max(total, 1)}%`, title: `${counts[status]} ${status}` }));
    }
    runLine.appendChild(bar);
  }

  function drawFanout(bar, node, f) {
    // a fan-out step: one bar along the node's bottom, done / running / failed out of its elements
    bar.replaceChildren();
    if (!f || !f.total) return;
    const x0 = node.x + 8, width = node.width - 14, y = node.y + node.height - 6;
    bar.appendChild(svg("rect", { x: x0, y, width, height: 3, rx: 1, class: "mlpw-seg-pending" }));
    let x = x0;
    for (const [kind, count] of [["succeeded", f.done], ["running", f.running], ["failed", f.failed]]) {
      if (!count) continue;
      const w = (width * count) / f.total;
      bar.appendChild(svg("rect", { x, y, width: w, height: 3, class: `mlpw-seg-${kind}`, "data-kind": kind, "data-count": count }));
      x += w;
    }
    bar.setAttribute("data-done", f.done);
    bar.setAttribute("data-running", f.running);
    bar.setAttribute("data-failed", f.failed);
    bar.setAttribute("data-total", f.total);
  }

  function table(rows, head) {
    return el("table", {}, el("thead", {}, el("tr", {}, head.map((h) => el("th", {}, h)))),
      el("tbody", {}, rows.map((r) => el("tr", {}, r.map((c) => el("td", {}, c))))));
  }

  function updateDetails() {
    const name = model.get("selected");
    const nodes = (model.get("graph") || {}).nodes || [];
    const node = nodes.find((n) => n.name === name);
    if (!name || !node) {
      details.replaceChildren(); details.setAttribute("data-step", ""); detailsKey = null; updateCharts(detailCharts, []);
      return;
    }
    const states = model.get("states") || {};
    const st = shownState(node, states);
    const specs = metricSpecs(model.get("metrics") || {}, nodes.map((n) => n.name), name, name);
    const members = node.module ? node.module.members.map((m) => [m, stateOf(states, m, looks())]) : [];
    const key = JSON.stringify([name, st, specs, members, node.module]);
    if (key === detailsKey) return; // unchanged: keep the pane (and its scroll positions) as it is
    detailsKey = key;
    const parts = [];
    const time = timeText(st);
    parts.push(el("h3", {},
      el("span", { class: `mlpw-chip mlpw-seg-${st.status}` }, `${iconOf(st)} ${st.label || st.status}`),
      el("span", {}, name),
      el("span", { class: "mlpw-muted", "data-role": "step-time" }, time),
      el("button", { class: "mlpw-close", type: "button", title: "close", "aria-label": "close details", onclick: () => select(name) }, "×")));
    const res = st.resources || {};
    const resText = [node.compute, res.num_cpus ? `${res.num_cpus} cpu` : "", res.num_gpus ? `${res.num_gpus} gpu` : "",
      res.memory ? `${fmtSize(res.memory)} memory` : ""].filter(Boolean).join(" · ");
    parts.push(el("div", { class: "mlpw-muted" }, resText, st.attempts > 1 ? ` · ${st.attempts} attempts` : ""));
    if (node.module) parts.push(...moduleDetails(node, members));
    if (st.reason) {
      const r = st.reason;
      const decision = { reused: "Reused", ran: "Ran", skipped: "Skipped" }[r.decision] || r.decision || "";
      parts.push(el("h4", {}, "Why"));
      parts.push(el("div", {}, `${decision}: ${r.summary || ""}`));
      const changes = (r.changes || []).filter(Boolean);
      if (changes.length > 1 || (changes.length === 1 && changes[0] !== r.summary)) {
        parts.push(el("ul", {}, changes.map((c) => el("li", {}, c))));
      }
    }
    if (st.error) {
      const e = st.error;
      parts.push(el("h4", {}, "Error"));
      const text = e.traceback ? `${e.traceback}` : (e.message || `${e.ename}: ${e.evalue}`);
      const head = e.ename ? `${e.ename}: ${e.evalue ?? ""}${e.cell !== null && e.cell !== undefined ? `  (cell ${e.cell + 1})` : ""}` : "";
      parts.push(el("pre", { class: "mlpw-error" }, head && !text.includes(head) ? `${head}\n${text}` : text));
    }
    if (st.fanout) {
      const f = st.fanout;
      parts.push(el("h4", {}, "Elements"));
      parts.push(el("div", { "data-role": "fanout" }, `${fanoutText(f)} · ${f.tasks} task${f.tasks === 1 ? "" : "s"} ran`));
      if (f.failures && f.failures.length) {
        parts.push(el("div", { class: "mlpw-muted" }, `failed elements (up to ${f.allowed} allowed by --error-threshold):`));
        parts.push(table(f.failures.map((x) => [String(x.index), `${x.ename}: ${x.evalue}`]), ["element", "error"]));
      }
    }
    if (st.output_tail && st.output_tail.length) {
      parts.push(el("h4", {}, "Output (last lines)"));
      parts.push(el("pre", {}, st.output_tail.join("\n")));
    }
    if (specs.length) {  // a chart per metric name, with the other steps that log it on the same axes
      parts.push(el("h4", {}, "Metrics"));
      parts.push(updateCharts(detailCharts, specs));
    } else updateCharts(detailCharts, []);
    const inputs = Object.entries(st.inputs || {});
    if (inputs.length) {
      parts.push(el("h4", {}, "Inputs"));
      parts.push(table(inputs.map(([v, a]) => [v, a.from || "", a.type_name || "", fmtSize(a.size), a.summary || ""]),
        ["name", "from", "type", "size", "summary"]));
    }
    const outputs = Object.entries(st.outputs || {});
    if (outputs.length) {
      parts.push(el("h4", {}, "Outputs"));
      parts.push(table(outputs.map(([v, a]) => [v, a.type_name || "", fmtSize(a.size), a.summary || ""]),
        ["name", "type", "size", "summary"]));
    }
    if (st.warnings && st.warnings.length) {
      parts.push(el("h4", {}, "Warnings"));
      parts.push(el("ul", {}, st.warnings.map((w) => el("li", {}, w))));
    }
    if (st.notebook_path) {
      const config = typeof document !== "undefined" && document.getElementById ? document.getElementById("jupyter-config-data") : null;
      const href = notebookHref((model.get("run") || {}).id, name, config ? config.textContent : null);
      parts.push(el("h4", {}, "Executed notebook"));
      parts.push(href
        // in JupyterLab the extension opens it in this window (data-mlpipe-notebook); elsewhere a new tab
        ? el("div", {}, el("a", { class: "mlpw-nblink", href, target: "_blank", rel: "noopener", title: st.notebook_path,
          "data-mlpipe-notebook": "1" },
          `Open ${name}.ipynb (read-only)`))
        : el("div", {}, el("code", { class: "mlpw-nbpath" }, st.notebook_path)));
    }
    details.setAttribute("data-step", name);
    details.setAttribute("data-status", st.status);
    details.replaceChildren(...parts);
  }

  // a module's details: what it is, its steps each with its status, and (closed) its first failed step's error
  function moduleDetails(node, members) {
    const mod = node.module;
    const parts = [el("h4", {}, `Module ${moduleLabel(mod)} · ${plural(mod.count, "step")}${mod.expanded ? " (open)" : ""}`)];
    const rows = members.map(([m, mst]) => {
      const own = m === node.name;
      const row = el("tr", { "data-member": m, "data-status": mst.status,
        ...(own ? {} : { class: "mlpw-member", title: `open ${node.name} at ${m}` }) },
      el("td", {}, el("span", { class: `mlpw-chip mlpw-seg-${mst.status}` }, `${iconOf(mst)} ${mst.label || mst.status}`)),
      el("td", {}, own ? `${m} (binds its parameters)` : m),
      el("td", { class: "mlpw-muted" }, timeText(mst)));
      if (!own) row.addEventListener("click", () => openAt(m));
      return row;
    });
    parts.push(el("table", { "data-role": "module-steps" },
      el("thead", {}, el("tr", {}, ["status", "step", "time"].map((h) => el("th", {}, h)))), el("tbody", {}, rows)));
    const failed = members.find(([m, mst]) => m !== node.name && mst.status === "failed" && mst.error);
    if (failed && !mod.expanded) {
      const e = failed[1].error;
      parts.push(el("h4", {}, `Error in ${failed[0]}`));
      parts.push(el("pre", { class: "mlpw-error" }, e.traceback || e.message || `${e.ename}: ${e.evalue}`));
    }
    return parts;
  }

  function tick() {
    const run = model.get("run") || {};
    const states = model.get("states") || {};
    const anyRunning = Object.values(states).some((s) => s.status === "running");
    if (run.status !== "running" && !anyRunning) return;
    updateNodes();
    const elapsed = runLine.querySelector('[data-role="elapsed"]');
    if (elapsed && run.started) elapsed.textContent = fmtDuration(now() - run.started);
    const stepTime = details.querySelector('[data-role="step-time"]');
    const name = model.get("selected");
    if (stepTime && name) stepTime.textContent = timeText(stateOf(states, name, looks()));
  }

  const onGraph = () => { drawGraph(); updateRunLine(); updateDetails(); updateCurves(); };
  const onStates = () => { updateNodes(); updateDetails(); };
  const onRun = () => { syncClock(); updateRunLine(); };
  function updateCurves() {
    const nodes = (model.get("graph") || {}).nodes || [];
    const specs = metricSpecs(model.get("metrics") || {}, nodes.map((n) => n.name));
    curves.hidden = !specs.length;
    curvesTitle.textContent = `Metrics (${specs.length} chart${specs.length === 1 ? "" : "s"}: ${specs.map((x) => x.key).join(", ")})`;
    updateCharts(curveCharts, specs);
  }
  const onMetrics = () => { updateDetails(); updateCurves(); };
  const onSelected = () => { updateNodes(); updateDetails(); placeDrawer(); reveal(model.get("selected")); };
  model.on("change:graph", onGraph);
  model.on("change:states", onStates);
  model.on("change:run", onRun);
  model.on("change:metrics", onMetrics);
  model.on("change:selected", onSelected);
  syncClock();
  onGraph();
  const timer = setInterval(tick, 1000);
  return () => {
    clearInterval(timer);
    if (resizeObserver) resizeObserver.disconnect();
    model.off("change:graph", onGraph);
    model.off("change:states", onStates);
    model.off("change:run", onRun);
    model.off("change:metrics", onMetrics);
    model.off("change:selected", onSelected);
    updateCharts(detailCharts, []);
    updateCharts(curveCharts, []);
  };
}

export default { render };
