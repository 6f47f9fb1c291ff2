// jupyter-mlpipe metric charts: uPlot (vendor/uPlot.iife.min.js) with axes, ticks, a legend and a hover
// readout, in the theme's colours. widget.py puts this file after uPlot and before panel.js or runs.js in
// one ES module, so the names here are prefixed (chart…) to keep clear of theirs. Without uPlot (the
// node tests load panel.js with this file only) a chart is its legend and last values as text.

// series colours: distinct on light and dark backgrounds (Tableau 10)
export const CHART_COLOURS = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
  "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];
const CHART_HEIGHT = 190;

function chartNode(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value !== null && value !== undefined) node.setAttribute(key, String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function chartNumber(v) {
  if (v === null || v === undefined || !isFinite(v)) return "–";
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(2) : String(Number(v.toPrecision(4)));
}

// uPlot's aligned data: the sorted union of the series' x values, and each series' y at those x (null
// where it logged nothing there; the line spans such gaps)
export function chartData(series) {
  const xs = [...new Set(series.flatMap((s) => s.points.map((p) => p[0])).filter((x) => x !== null && isFinite(x)))]
    .sort((a, b) => a - b);
  const at = new Map(xs.map((x, i) => [x, i]));
  const ys = series.map((s) => {
    const y = new Array(xs.length).fill(null);
    for (const [x, v] of s.points) if (at.has(x)) y[at.get(x)] = v === null || v === undefined || !isFinite(v) ? null : v;
    return y;
  });
  return [xs, ...ys];
}

// the theme's colours, read from the chart's root (CSS custom properties resolve to colours there)
function chartTheme(node, prefix) {
  const style = typeof getComputedStyle === "function" && node.isConnected ? getComputedStyle(node) : null;
  const read = (name, fallback) => (style && style.getPropertyValue(`--${prefix}-${name}`).trim()) || fallback;
  return {
    text: read("fg2", "#59636e"),
    grid: read("border", "#d0d7de"),
    font: (style && style.fontFamily) || "system-ui, sans-serif",
  };
}

const chartLast = (points) => {
  for (let i = points.length - 1; i >= 0; i -= 1) if (points[i][1] !== null && points[i][1] !== undefined) return points[i][1];
  return null;
};

// A chart of one metric: `series` [{label, points: [[x, y], ...]}] on shared axes (x: `xLabel`, y: `yLabel`).
// Returns its element: `.PREFIX-chart` with the uPlot chart, made once the element has a width (and its
// theme) and resized with it; `destroy()` on the element frees it. data-x-ticks / data-y-ticks: the tick
// labels uPlot drew last, data-series: the legend's names.
export function metricChart({ series, xLabel = "step", yLabel = "", prefix = "mlpw", height = CHART_HEIGHT }) {
  const box = chartNode("div", {
    class: `${prefix}-chart`, role: "figure",
    "aria-label": `${yLabel} by ${xLabel}: ${series.map((s) => `${s.label} ${chartNumber(chartLast(s.points))}`).join(", ")}`,
    "data-series": JSON.stringify(series.map((s) => s.label)),
  });
  const UPlot = typeof uPlot === "function" ? uPlot : null; // eslint-disable-line no-undef
  if (!UPlot || typeof ResizeObserver !== "function") {
    // no charting here: the legend with each series' last value
    box.update = (next) => box.replaceChildren(...next.map((s, i) => chartNode("div", { class: `${prefix}-chart-fallback` },
      chartNode("span", { style: `color: ${CHART_COLOURS[i % CHART_COLOURS.length]}` }, "■ "),
      `${s.label}: ${chartNumber(chartLast(s.points))} (${s.points.length} points)`)));
    box.update(series);
    box.destroy = () => {};
    return box;
  }
  let plot = null;
  let data = chartData(series);
  const ticks = (axis) => (u, splits) => {
    const labels = splits.map((v) => chartNumber(v));
    box.setAttribute(`data-${axis}-ticks`, JSON.stringify(labels));
    return labels;
  };
  const make = (width) => {
    const theme = chartTheme(box, prefix);
    const axis = (label, axisName) => ({
      label, stroke: theme.text, font: `11px ${theme.font}`, labelFont: `11px ${theme.font}`, labelSize: 16,
      grid: { stroke: theme.grid, width: 1 }, ticks: { stroke: theme.grid, width: 1, size: 4 }, values: ticks(axisName),
    });
    const xAxis = { ...axis(xLabel, "x"), size: 26 };
    // steps are counted in whole numbers: no tick at 0.5 when every x is whole
    if (data[0].every((x) => Number.isInteger(x))) {
      xAxis.incrs = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 1e4, 2e4, 5e4, 1e5, 1e6, 1e7];
    }
    const yAxis = axis(yLabel, "y");
    // room for the longest tick label (uPlot calls this with the labels it is about to draw)
    yAxis.size = (u, values) => 18 + 6.5 * Math.max(3, ...(values || []).map((v) => String(v).length));
    plot = new UPlot({
      width, height,
      scales: { x: { time: false } },
      series: [
        { label: xLabel, value: (u, v) => chartNumber(v) },
        ...series.map((s, i) => ({
          label: s.label, stroke: CHART_COLOURS[i % CHART_COLOURS.length], width: 1.5, spanGaps: true,
          points: { size: 5 }, value: (u, v) => chartNumber(v),
        })),
      ],
      axes: [xAxis, yAxis],
      legend: { live: true },
      cursor: { points: { size: 7 }, drag: { x: false, y: false } },
    }, data, box);
  };
  const observer = new ResizeObserver(() => {
    const width = Math.floor(box.clientWidth);
    if (width < 60) return; // not on the page (yet), or hidden
    if (!plot) make(width);
    else if (Math.abs(plot.width - width) > 1) plot.setSize({ width, height });
  });
  observer.observe(box);
  box.update = (next) => {
    series = next;
    data = chartData(next);
    if (plot) plot.setData(data);
  };
  box.destroy = () => {
    observer.disconnect();
    if (plot) plot.destroy();
    plot = null;
  };
  return box;
}

// Charts kept across re-renders: `specs` [{key, series, xLabel, yLabel, head}] into `box` (its
// children are `.PREFIX-metric` blocks, one per key). A chart whose series keep their names gets
// the new points (its hover state stays); one with other series is made again.
export function updateCharts(box, specs, prefix = "mlpw") {
  const kept = box.chartsByKey || new Map();
  const next = new Map();
  const blocks = [];
  for (const spec of specs) {
    const names = JSON.stringify(spec.series.map((s) => s.label));
    let entry = kept.get(spec.key);
    if (entry && entry.names === names && entry.yLabel === spec.yLabel) {
      entry.chart.update(spec.series);
      kept.delete(spec.key);
    } else {
      const chart = metricChart({ series: spec.series, xLabel: spec.xLabel || "step", yLabel: spec.yLabel, prefix });
      const head = chartNode("div", { class: `${prefix}-metric-name` });
      entry = { chart, head, names, yLabel: spec.yLabel,
        block: chartNode("div", { class: `${prefix}-metric`, "data-metric": spec.key }, head, chart) };
    }
    entry.head.textContent = spec.head || spec.key;
    next.set(spec.key, entry);
    blocks.push(entry.block);
  }
  for (const gone of kept.values()) gone.chart.destroy();
  box.chartsByKey = next;
  box.replaceChildren(...blocks);
  return box;
}
