import { edgePath, IEdgeInput, IStepInput, layoutGraph, NODE_H, place } from '../layout';

function overlaps(a: { x: number; y: number; width: number; height: number }, b: typeof a): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

function checkNoOverlap(steps: IStepInput[], edges: IEdgeInput[]): void {
  checkNoOverlapIn(steps, edges, 'LR');
  checkNoOverlapIn(steps, edges, 'TB');
}

function checkNoOverlapIn(steps: IStepInput[], edges: IEdgeInput[], direction: 'LR' | 'TB'): void {
  const graph = layoutGraph(steps, edges, direction);
  expect(graph.nodes).toHaveLength(steps.length);
  for (let i = 0; i < graph.nodes.length; i++) {
    const node = graph.nodes[i];
    expect(node.x).toBeGreaterThanOrEqual(0);
    expect(node.y).toBeGreaterThanOrEqual(0);
    expect(node.x + node.width).toBeLessThanOrEqual(graph.width);
    expect(node.y + node.height).toBeLessThanOrEqual(graph.height);
    for (let j = i + 1; j < graph.nodes.length; j++) {
      expect(overlaps(node, graph.nodes[j])).toBe(false);
    }
  }
}

/** A small deterministic random generator (tests must not flake). */
function random(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
}

describe('layoutGraph', () => {
  const chain = ['load', 'features', 'train', 'evaluate'].map(name => ({ name }));
  const chainEdges = [
    { from: 'load', to: 'features', variables: ['X', 'y'] },
    { from: 'features', to: 'train', variables: ['X_train'] },
    { from: 'train', to: 'evaluate', variables: ['model'] },
    { from: 'features', to: 'evaluate', variables: ['X_test', 'y_test'] }
  ];

  it('puts a chain left to right, one layer per step', () => {
    const graph = layoutGraph(chain, chainEdges);
    expect(graph.layers).toBe(4);
    expect(graph.nodes.map(n => n.layer)).toEqual([0, 1, 2, 3]);
    const xs = graph.nodes.map(n => n.x);
    expect([...xs].sort((a, b) => a - b)).toEqual(xs);
    expect(graph.crossings).toBe(0);
  });

  it('puts a chain top to bottom when asked', () => {
    const graph = layoutGraph(chain, chainEdges, 'TB');
    expect(graph.direction).toBe('TB');
    const ys = graph.nodes.map(n => n.y);
    expect([...ys].sort((a, b) => a - b)).toEqual(ys);
    expect(new Set(ys).size).toBe(4);
    expect(graph.height).toBeGreaterThan(graph.width);
    for (const edge of graph.edges) {
      const [x0, y0] = edge.points[0];
      const from = graph.nodes.find(n => n.name === edge.from)!;
      expect(y0).toBe(from.y + from.height); // leaves from the bottom side
      expect(x0).toBeGreaterThanOrEqual(from.x);
      expect(x0).toBeLessThanOrEqual(from.x + from.width);
    }
  });

  it('routes a long edge through dummies between its layers', () => {
    const graph = layoutGraph(chain, chainEdges);
    const long = graph.edges.find(e => e.from === 'features' && e.to === 'evaluate')!;
    expect(long.points.length).toBe(4); // start, in and out of the train layer, end
    expect(long.variables).toEqual(['X_test', 'y_test']);
    const train = graph.nodes.find(n => n.name === 'train')!;
    const [, [, yIn]] = long.points;
    expect(yIn < train.y || yIn > train.y + train.height).toBe(true);
  });

  it('keeps resources and the first cell of each step', () => {
    const graph = layoutGraph([{ name: 'fit', cells: [7, 8], resources: { compute: 'gpu', num_gpus: 1 } }], []);
    expect(graph.nodes[0]).toMatchObject({ name: 'fit', compute: 'gpu', numGpus: 1, cell: 7 });
  });

  it('handles empty plans, unknown endpoints, self loops and cycles', () => {
    expect(layoutGraph([], [])).toMatchObject({ nodes: [], edges: [], layers: 0 });
    const graph = layoutGraph([{ name: 'a' }, { name: 'b' }], [
      { from: 'a', to: 'zz' }, { from: 'a', to: 'a' }, { from: 'a', to: 'b' }, { from: 'b', to: 'a' }
    ]);
    expect(graph.nodes).toHaveLength(2);
    expect(graph.edges.filter(e => e.reversed)).toHaveLength(1);
  });

  it('merges duplicate edges and their variables', () => {
    const graph = layoutGraph([{ name: 'a' }, { name: 'b' }], [
      { from: 'a', to: 'b', variables: ['x'] }, { from: 'a', to: 'b', variables: ['x', 'y'] }
    ]);
    expect(graph.edges).toEqual([expect.objectContaining({ variables: ['x', 'y'] })]);
  });

  it('never overlaps two steps (fan-out, fan-in, random graphs)', () => {
    const fan = Array.from({ length: 8 }, (_, i) => ({ name: `s${i}` }));
    checkNoOverlap(fan, fan.slice(1).map(s => ({ from: 's0', to: s.name })));
    checkNoOverlap(fan, fan.slice(0, -1).map(s => ({ from: s.name, to: 's7' })));
    checkNoOverlap(fan, []);
    const rand = random(42);
    for (let trial = 0; trial < 40; trial++) {
      const n = 2 + Math.floor(rand() * 14);
      const steps = Array.from({ length: n }, (_, i) => ({ name: `n${i}` }));
      const edges: IEdgeInput[] = [];
      for (let k = 0; k < n * 1.5; k++) {
        const a = Math.floor(rand() * n);
        const b = Math.floor(rand() * n);
        if (a < b) {
          edges.push({ from: `n${a}`, to: `n${b}`, variables: ['v'] });
        }
      }
      checkNoOverlap(steps, edges);
    }
  });

  it('is deterministic', () => {
    expect(layoutGraph(chain, chainEdges)).toEqual(layoutGraph(chain, chainEdges));
  });
});

describe('place', () => {
  it('keeps the minimum separations, as close to the wishes as it can', () => {
    expect(place([0, 0, 0], [10, 10])).toEqual([-10, 0, 10]);
    expect(place([0, 100], [NODE_H])).toEqual([0, 100]);
  });
});

describe('edgePath', () => {
  it('draws straight lines and curves', () => {
    expect(edgePath([[0, 0], [10, 0]])).toBe('M0,0 L10,0');
    expect(edgePath([[0, 0], [10, 20]])).toBe('M0,0 C5,0 5,20 10,20');
    expect(edgePath([])).toBe('');
    expect(edgePath([[0, 0], [20, 10]], 'TB')).toBe('M0,0 C0,5 20,5 20,10');
  });
});
