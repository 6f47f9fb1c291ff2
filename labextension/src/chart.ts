/**
 * Metric charts in the side panel's step details: uPlot with axes, ticks, a legend and a hover
 * readout, in JupyterLab's theme colours. The run panel widget draws the same charts
 * (jupyter_mlpipe/panel/chart.js, a vendored copy of the same uPlot); this is its port.
 */

import uPlot from 'uplot';

/** Series colours: distinct on light and dark backgrounds (Tableau 10), as the widget's. */
export const CHART_COLOURS = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];
const HEIGHT = 170;

export type Point = [number, number | null];
/** {step: {metric: [[step index, value], ...]}} */
export type Metrics = Record<string, Record<string, Point[]>>;

export interface IChartSpec {
  key: string;
  head: string;
  yLabel: string;
  series: { label: string; points: Point[] }[];
}

/** The REST API's metrics ({step: {name: [{index, value, ts}]}}) as points. */
export function restMetrics(raw: unknown): Metrics {
  const out: Metrics = {};
  if (!raw || typeof raw !== 'object') {
    return out;
  }
  for (const [step, names] of Object.entries(raw as Record<string, unknown>)) {
    if (!names || typeof names !== 'object') {
      continue;
    }
    for (const [name, points] of Object.entries(names as Record<string, unknown>)) {
      if (!Array.isArray(points)) {
        continue;
      }
      out[step] = out[step] ?? {};
      out[step][name] = points.map((p: any, i: number): Point => [
        typeof p?.index === 'number' ? p.index : i,
        typeof p?.value === 'number' && isFinite(p.value) ? p.value : null
      ]);
    }
  }
  return out;
}

export function chartNumber(v: number | null | undefined): string {
  if (v === null || v === undefined || !isFinite(v)) {
    return '–';
  }
  if (Number.isInteger(v)) {
    return String(v);
  }
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(2) : String(Number(v.toPrecision(4)));
}

/**
 * The charts of the metric names `step` logs, each with the series of every step that logs the
 * same name (`step` first, then `order`), its last value in the head.
 */
export function stepChartSpecs(metrics: Metrics, order: string[], step: string): IChartSpec[] {
  const steps = [...new Set([step, ...order, ...Object.keys(metrics)])].filter(s => metrics[s]);
  return Object.keys(metrics[step] ?? {}).map(name => {
    const mine = metrics[step][name];
    const last = mine.length ? mine[mine.length - 1][1] : null;
    return {
      key: name,
      yLabel: name,
      head: `${name} = ${chartNumber(last)}`,
      series: steps.filter(s => metrics[s][name]).map(s => ({ label: s, points: metrics[s][name] }))
    };
  });
}

/** uPlot's aligned data: the sorted union of x values; each series' y there (null: none logged). */
export function chartData(series: IChartSpec['series']): (number | null)[][] {
  const all = new Set<number>();
  for (const s of series) {
    for (const p of s.points) {
      if (isFinite(p[0])) {
        all.add(p[0]);
      }
    }
  }
  const xs = [...all].sort((a, b) => a - b);
  const at = new Map(xs.map((x, i) => [x, i]));
  return [xs, ...series.map(s => {
    const y: (number | null)[] = new Array(xs.length).fill(null);
    for (const [x, v] of s.points) {
      if (at.has(x)) {
        y[at.get(x)!] = v;
      }
    }
    return y;
  })];
}

interface IChartBox extends HTMLElement {
  update?: (series: IChartSpec['series']) => void;
  destroy?: () => void;
}

function metricChart(spec: IChartSpec): IChartBox {
  const box = document.createElement('div') as IChartBox;
  box.className = 'mlps-chart';
  box.setAttribute('role', 'figure');
  box.setAttribute('aria-label', `${spec.yLabel} by step`);
  box.dataset.series = JSON.stringify(spec.series.map(s => s.label));
  let plot: uPlot | null = null;
  let data = chartData(spec.series);
  const ticks = (axis: string) => (_u: uPlot, splits: number[]) => {
    const labels = splits.map(v => chartNumber(v));
    box.setAttribute(`data-${axis}-ticks`, JSON.stringify(labels));
    return labels;
  };
  const make = (width: number) => {
    const style = getComputedStyle(box);
    const text = style.getPropertyValue('--jp-ui-font-color2').trim() || '#59636e';
    const grid = style.getPropertyValue('--jp-border-color2').trim() || '#d0d7de';
    const font = `11px ${style.fontFamily || 'sans-serif'}`;
    const axis = (label: string, name: string): uPlot.Axis => ({
      label, stroke: text, font, labelFont: font, labelSize: 16,
      grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1, size: 4 }, values: ticks(name)
    });
    const xAxis: uPlot.Axis = { ...axis('step', 'x'), size: 26 };
    if ((data[0] as number[]).every(x => Number.isInteger(x))) {  // whole steps: no tick at 0.5
      xAxis.incrs = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 1e4, 1e5, 1e6];
    }
    const yAxis: uPlot.Axis = {
      ...axis(spec.yLabel, 'y'),
      size: (_u: uPlot, values: string[]) => 18 + 6.5 * Math.max(3, ...(values ?? []).map(v => String(v).length))
    };
    plot = new uPlot({
      width, height: HEIGHT,
      scales: { x: { time: false } },
      series: [
        { label: 'step', value: (_u: uPlot, v: number) => chartNumber(v) },
        ...spec.series.map((s, i) => ({
          label: s.label, stroke: CHART_COLOURS[i % CHART_COLOURS.length], width: 1.5, spanGaps: true,
          points: { size: 5 }, value: (_u: uPlot, v: number) => chartNumber(v)
        }))
      ],
      axes: [xAxis, yAxis],
      legend: { live: true },
      cursor: { points: { size: 7 }, drag: { x: false, y: false } }
    }, data as uPlot.AlignedData, box);
  };
  const observer = new ResizeObserver(() => {
    const width = Math.floor(box.clientWidth);
    if (width < 60) {
      return;  // not on the page (yet), or hidden
    }
    if (!plot) {
      make(width);
    } else if (Math.abs(plot.width - width) > 1) {
      plot.setSize({ width, height: HEIGHT });
    }
  });
  observer.observe(box);
  box.update = series => {
    data = chartData(series);
    plot?.setData(data as uPlot.AlignedData);
  };
  box.destroy = () => {
    observer.disconnect();
    plot?.destroy();
    plot = null;
  };
  return box;
}

interface IKept {
  chart: IChartBox;
  head: HTMLElement;
  block: HTMLElement;
  names: string;
}

/**
 * Charts kept across the panel's re-renders (it is drawn again at every poll): `specs` into `box`, a
 * chart whose series keep their names gets the new points (and keeps its hover), others are made anew.
 */
export class ChartSet {
  readonly node: HTMLElement;
  private _kept = new Map<string, IKept>();

  constructor() {
    this.node = document.createElement('div');
    this.node.className = 'mlps-metrics';
  }

  update(specs: IChartSpec[]): HTMLElement {
    const next = new Map<string, IKept>();
    for (const spec of specs) {
      const names = JSON.stringify([spec.yLabel, spec.series.map(s => s.label)]);
      let entry = this._kept.get(spec.key);
      if (entry && entry.names === names) {
        entry.chart.update?.(spec.series);
        this._kept.delete(spec.key);
      } else {
        const chart = metricChart(spec);
        const head = document.createElement('div');
        head.className = 'mlps-metric-name';
        const block = document.createElement('div');
        block.className = 'mlps-metric';
        block.dataset.metric = spec.key;
        block.append(head, chart);
        entry = { chart, head, block, names };
      }
      entry.head.textContent = spec.head;
      next.set(spec.key, entry);
    }
    for (const gone of this._kept.values()) {
      gone.chart.destroy?.();
    }
    this._kept = next;
    this.node.replaceChildren(...[...next.values()].map(e => e.block));
    return this.node;
  }

  dispose(): void {
    this.update([]);
  }
}
