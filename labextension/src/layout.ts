/**
 * Where the side panel draws each step: the layered left-to-right layout of
 * the in-notebook run panel (`jupyter_mlpipe/panel/layout.py`), in TypeScript.
 *
 * 1. layers by longest path from the sources; 2. one dummy node per layer a
 * long edge passes; 3. barycenter sweeps order each layer (fewest crossings
 * kept); 4. vertical positions by isotonic regression, so nodes never overlap.
 */

export const NODE_W = 176;
export const NODE_H = 52;
const GAP_X = 70; // between layers, left to right
const GAP_Y = 18; // between steps of a layer, left to right
const GAP_TB_LAYER = 40; // between layers, top to bottom
const GAP_TB_ORDER = 16; // between steps of a layer, top to bottom
const DUMMY_H = 6;
const DUMMY_GAP = 10;
const PAD = 12;
const SWEEPS = 24;
const PLACE_PASSES = 8;

export interface IStepInput {
  name: string;
  cells?: number[];
  resources?: { compute?: string | null; num_gpus?: number | null; [key: string]: unknown };
}

export interface IEdgeInput {
  from: string;
  to: string;
  variables?: string[];
}

export interface ILayoutNode {
  name: string;
  compute: string;
  numGpus: number;
  cell: number | null;
  layer: number;
  order: number;
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface ILayoutEdge {
  from: string;
  to: string;
  variables: string[];
  points: [number, number][];
  reversed: boolean;
}

/** LR: sources on the left (the run panel's layout); TB: sources on top (narrow side panels). */
export type Direction = 'LR' | 'TB';

export interface ILayout {
  direction: Direction;
  nodes: ILayoutNode[];
  edges: ILayoutEdge[];
  width: number;
  height: number;
  layers: number;
  crossings: number;
}

const round = (v: number): number => Math.round(v * 10) / 10;

/** Kahn's algorithm preferring plan order; nodes left in a cycle follow in plan order. */
function topological(n: number, pairs: [number, number][]): number[] {
  const indeg = new Array<number>(n).fill(0);
  const succ: number[][] = Array.from({ length: n }, () => []);
  for (const [a, b] of pairs) {
    succ[a].push(b);
    indeg[b]++;
  }
  const seen = new Array<boolean>(n).fill(false);
  const ready = new Set<number>();
  for (let v = 0; v < n; v++) {
    if (indeg[v] === 0) {
      ready.add(v);
    }
  }
  const order: number[] = [];
  while (order.length < n) {
    if (!ready.size) {
      const v = seen.indexOf(false);
      ready.add(v);
    }
    const v = Math.min(...ready);
    ready.delete(v);
    if (seen[v]) {
      continue;
    }
    seen[v] = true;
    order.push(v);
    for (const w of succ[v]) {
      indeg[w]--;
      if (indeg[w] === 0 && !seen[w]) {
        ready.add(w);
      }
    }
  }
  return order;
}

/** Crossings between two adjacent layers (edges from `upper` to `lower`). */
export function countCrossings(upper: number[], lower: number[], down: number[][]): number {
  const lowerPos = new Map<number, number>();
  lower.forEach((v, i) => lowerPos.set(v, i));
  const ends: number[] = [];
  for (const u of upper) {
    const mine = down[u].filter(w => lowerPos.has(w)).map(w => lowerPos.get(w)!);
    mine.sort((a, b) => a - b);
    ends.push(...mine);
  }
  let crossings = 0;
  for (let i = 0; i < ends.length; i++) {
    for (let j = i + 1; j < ends.length; j++) {
      if (ends[i] > ends[j]) {
        crossings++;
      }
    }
  }
  return crossings;
}

function sortByBarycenter(lay: number[], neighbours: number[][], pos: number[]): void {
  const key = (v: number): number => {
    const nb = neighbours[v];
    return nb.length ? nb.reduce((s, u) => s + pos[u], 0) / nb.length : pos[v];
  };
  const keyed = lay.map((v, i) => ({ v, i, k: key(v) }));
  keyed.sort((a, b) => a.k - b.k || a.i - b.i);
  keyed.forEach((item, i) => (lay[i] = item.v));
}

function transpose(layers: number[][], up: number[][], down: number[][], pos: number[]): void {
  const cost = (u: number, w: number): number => {
    let c = 0;
    for (const nbs of [up, down]) {
      for (const a of nbs[u]) {
        for (const b of nbs[w]) {
          if (pos[a] > pos[b]) {
            c++;
          }
        }
      }
    }
    return c;
  };
  for (let round = 0; round < 4; round++) {
    let improved = false;
    for (const lay of layers) {
      for (let i = 0; i < lay.length - 1; i++) {
        const u = lay[i];
        const w = lay[i + 1];
        if (cost(w, u) < cost(u, w)) {
          lay[i] = w;
          lay[i + 1] = u;
          pos[u] = i + 1;
          pos[w] = i;
          improved = true;
        }
      }
    }
    if (!improved) {
      return;
    }
  }
}

/** Positions closest to `desired`, in order, at least `seps[i]` apart (pool adjacent violators). */
export function place(desired: number[], seps: number[]): number[] {
  const offsets = [0];
  for (const s of seps) {
    offsets.push(offsets[offsets.length - 1] + s);
  }
  const blocks: [number, number][] = [];
  desired.forEach((d, i) => {
    blocks.push([d - offsets[i], 1]);
    while (blocks.length > 1 && blocks[blocks.length - 2][0] > blocks[blocks.length - 1][0]) {
      const [mean, count] = blocks.pop()!;
      const prev = blocks[blocks.length - 1];
      prev[0] = (prev[0] * prev[1] + mean * count) / (prev[1] + count);
      prev[1] += count;
    }
  });
  const z: number[] = [];
  for (const [mean, count] of blocks) {
    for (let i = 0; i < count; i++) {
      z.push(mean);
    }
  }
  return z.map((zi, i) => zi + offsets[i]);
}

function port(center: number, k: number, count: number, extent: number): number {
  if (count <= 1) {
    return center;
  }
  const span = extent * 0.6;
  return center - span / 2 + (span * k) / (count - 1);
}

/** Lay out the steps and edges of a plan (see the module comment). */
export function layoutGraph(
  steps: readonly IStepInput[],
  edges: readonly IEdgeInput[],
  direction: Direction = 'LR'
): ILayout {
  const lr = direction === 'LR';
  // the "order" axis runs along a layer (y in LR, x in TB); the "layer" axis across layers
  const extent = lr ? NODE_H : NODE_W; // a node's size along the order axis
  const depth = lr ? NODE_W : NODE_H; // a node's size along the layer axis
  const layerGap = lr ? GAP_X : GAP_TB_LAYER;
  const orderGap = lr ? GAP_Y : GAP_TB_ORDER;
  const names = steps.map(s => s.name);
  const index = new Map<string, number>();
  names.forEach((name, i) => index.set(name, i));
  const n = names.length;

  const merged = new Map<string, { a: number; b: number; variables: string[] }>();
  for (const edge of edges) {
    const a = index.get(edge.from);
    const b = index.get(edge.to);
    if (a === undefined || b === undefined || a === b) {
      continue;
    }
    const key = `${a}>${b}`;
    const entry = merged.get(key) ?? { a, b, variables: [] };
    for (const v of edge.variables ?? []) {
      if (!entry.variables.includes(v)) {
        entry.variables.push(v);
      }
    }
    merged.set(key, entry);
  }
  const pairs = [...merged.values()].map(e => [e.a, e.b] as [number, number]);
  const topo = topological(n, pairs);
  const rank = new Array<number>(n);
  topo.forEach((v, i) => (rank[v] = i));
  const directed = pairs.map(([a, b]) => (rank[a] < rank[b] ? [a, b] : [b, a]) as [number, number]);

  // 1. longest-path layers
  const preds: number[][] = Array.from({ length: n }, () => []);
  for (const [a, b] of directed) {
    preds[b].push(a);
  }
  const layer = new Array<number>(n).fill(0);
  for (const v of topo) {
    layer[v] = preds[v].reduce((m, p) => Math.max(m, layer[p] + 1), 0);
  }
  const nLayers = n ? Math.max(...layer) + 1 : 0;

  // 2. dummies
  const nodeLayer = [...layer];
  const chains: number[][] = [];
  for (const [a, b] of directed) {
    const chain = [a];
    for (let lay = layer[a] + 1; lay < layer[b]; lay++) {
      nodeLayer.push(lay);
      chain.push(nodeLayer.length - 1);
    }
    chain.push(b);
    chains.push(chain);
  }
  const total = nodeLayer.length;
  const up: number[][] = Array.from({ length: total }, () => []);
  const down: number[][] = Array.from({ length: total }, () => []);
  for (const chain of chains) {
    for (let i = 0; i + 1 < chain.length; i++) {
      down[chain[i]].push(chain[i + 1]);
      up[chain[i + 1]].push(chain[i]);
    }
  }

  // 3. order within layers
  let layers: number[][] = Array.from({ length: nLayers }, () => []);
  for (let v = 0; v < total; v++) {
    layers[nodeLayer[v]].push(v);
  }
  const pos = new Array<number>(total).fill(0);
  const renumber = (lay: number[]): void => lay.forEach((v, i) => (pos[v] = i));
  const totalCrossings = (): number => {
    let c = 0;
    for (let i = 0; i + 1 < layers.length; i++) {
      c += countCrossings(layers[i], layers[i + 1], down);
    }
    return c;
  };
  layers.forEach(renumber);
  for (const lay of layers.slice(1)) {
    sortByBarycenter(lay, up, pos);
    renumber(lay);
  }
  let best = layers.map(l => [...l]);
  let bestCrossings = totalCrossings();
  for (let sweep = 0; sweep < SWEEPS && bestCrossings > 0; sweep++) {
    if (sweep % 2 === 0) {
      for (const lay of layers.slice(1)) {
        sortByBarycenter(lay, up, pos);
        renumber(lay);
      }
    } else {
      for (const lay of layers.slice(0, -1).reverse()) {
        sortByBarycenter(lay, down, pos);
        renumber(lay);
      }
    }
    transpose(layers, up, down, pos);
    const crossings = totalCrossings();
    if (crossings < bestCrossings) {
      best = layers.map(l => [...l]);
      bestCrossings = crossings;
    }
  }
  layers = best;
  layers.forEach(renumber);

  // 4. vertical positions
  const heightOf = (v: number): number => (v < n ? extent : DUMMY_H);
  const gap = (a: number, b: number): number =>
    (heightOf(a) + heightOf(b)) / 2 + (a < n && b < n ? orderGap : DUMMY_GAP);
  const center = new Array<number>(total).fill(0);
  for (const lay of layers) {
    let y = 0;
    lay.forEach((v, i) => {
      if (i) {
        y += gap(lay[i - 1], v);
      }
      center[v] = y;
    });
  }
  for (let p = 0; p < PLACE_PASSES; p++) {
    const sequence = p % 2 === 0 ? layers.slice(1) : layers.slice(0, -1).reverse();
    const neighbours = p % 2 === 0 ? up : down;
    for (const lay of sequence) {
      const desired = lay.map(v => {
        const nb = neighbours[v];
        return nb.length ? nb.reduce((s, u) => s + center[u], 0) / nb.length : center[v];
      });
      const seps = lay.slice(1).map((v, i) => gap(lay[i], v));
      place(desired, seps).forEach((y, i) => (center[lay[i]] = y));
    }
  }
  for (const lay of layers) {
    for (let i = 1; i < lay.length; i++) {
      const v = lay[i];
      if (!up[v].length && !down[v].length) {
        center[v] = Math.min(center[v], center[lay[i - 1]] + gap(lay[i - 1], v));
      }
    }
  }
  let top = 0;
  for (let v = 0; v < total; v++) {
    top = Math.min(top, center[v] - heightOf(v) / 2);
  }
  if (total) {
    top = Math.min(...center.map((c, v) => c - heightOf(v) / 2));
  }
  const shift = PAD - top;
  for (let v = 0; v < total; v++) {
    center[v] += shift;
  }
  const xOf = (lay: number): number => PAD + lay * (depth + layerGap);
  // (layer axis, order axis) -> (x, y)
  const at = (l: number, o: number): [number, number] => (lr ? [l, o] : [o, l]);

  const nodes: ILayoutNode[] = steps.map((step, v) => {
    const res = step.resources ?? {};
    return {
      name: step.name,
      compute: String(res.compute ?? 'cpu'),
      numGpus: Number(res.num_gpus ?? 0) || 0,
      cell: step.cells && step.cells.length ? step.cells[0] : null,
      layer: layer[v],
      order: pos[v],
      x: round(at(xOf(layer[v]), center[v] - extent / 2)[0]),
      y: round(at(xOf(layer[v]), center[v] - extent / 2)[1]),
      width: NODE_W,
      height: NODE_H
    };
  });

  const outPort = new Map<string, number>();
  const inPort = new Map<string, number>();
  for (let v = 0; v < n; v++) {
    const outgoing = chains.filter(c => c[0] === v).sort((a, b) => center[a[1]] - center[b[1]]);
    outgoing.forEach((c, k) => outPort.set(`${c[0]}>${c[c.length - 1]}`, port(center[v], k, outgoing.length, extent)));
    const incoming = chains
      .filter(c => c[c.length - 1] === v)
      .sort((a, b) => center[a[a.length - 2]] - center[b[b.length - 2]]);
    incoming.forEach((c, k) => inPort.set(`${c[0]}>${c[c.length - 1]}`, port(center[v], k, incoming.length, extent)));
  }
  const entries = [...merged.values()];
  const outEdges: ILayoutEdge[] = directed.map(([a, b], i) => {
    const chain = chains[i];
    const key = `${a}>${b}`;
    const pts: [number, number][] = [at(xOf(layer[a]) + depth, outPort.get(key)!)];
    for (const d of chain.slice(1, -1)) {
      pts.push(at(xOf(nodeLayer[d]), center[d]));
      pts.push(at(xOf(nodeLayer[d]) + depth, center[d]));
    }
    pts.push(at(xOf(layer[b]), inPort.get(key)!));
    const entry = entries[i];
    return {
      from: names[entry.a],
      to: names[entry.b],
      variables: entry.variables,
      points: pts.map(([x, y]) => [round(x), round(y)] as [number, number]),
      reversed: entry.a !== a
    };
  });

  const across = PAD * 2 + (nLayers ? nLayers * depth + (nLayers - 1) * layerGap : 0);
  let bottom = 0;
  for (let v = 0; v < total; v++) {
    bottom = Math.max(bottom, center[v] + heightOf(v) / 2);
  }
  const along = Math.max(bottom + PAD, PAD * 2);
  const [width, height] = at(across, along);
  return {
    direction,
    nodes,
    edges: outEdges,
    width: round(width),
    height: round(height),
    layers: nLayers,
    crossings: bestCrossings
  };
}

/** A smooth SVG path through an edge's points (tangents along the layer axis at each end). */
export function edgePath(points: readonly [number, number][], direction: Direction = 'LR'): string {
  if (!points.length) {
    return '';
  }
  let d = `M${points[0][0]},${points[0][1]}`;
  for (let i = 1; i < points.length; i++) {
    const [x0, y0] = points[i - 1];
    const [x1, y1] = points[i];
    if (direction === 'LR' ? y0 === y1 : x0 === x1) {
      d += ` L${x1},${y1}`;
    } else if (direction === 'LR') {
      const mid = (x0 + x1) / 2;
      d += ` C${mid},${y0} ${mid},${y1} ${x1},${y1}`;
    } else {
      const mid = (y0 + y1) / 2;
      d += ` C${x0},${mid} ${x1},${mid} ${x1},${y1}`;
    }
  }
  return d;
}
