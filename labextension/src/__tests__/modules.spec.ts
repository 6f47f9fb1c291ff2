import type { ILayout, IPlan, IRunDetail } from '../api';
import {
  ExpandSet, aggregateStatus, drawnNodeOf, enclosingModules, moduleLabel, moduleMembers, moduleStatus, planEndpoint,
  runEndpoint, runStepStatus, statusOrder, toggleTitle
} from '../modules';
import { GROUP_COLOURS, groupColour } from '../moduleview';

/** The order vocab.py sends (`status_order`): what matters most first. */
const ORDER = ['failed', 'cancelled', 'running', 'pending', 'skipped', 'succeeded', 'reused'];
const MEMBERS = ['feats', 'feats.clean', 'feats.scale', 'feats.stats'];

/** A layout shaped as panel/layout.py makes it (contract of #16): `feats` collapsed. */
function layout(expanded = false): ILayout {
  const node = (name: string, extra: Record<string, unknown> = {}) => ({
    name, compute: 'cpu', cell: 3, layer: 0, order: 0, x: 0, y: 0, width: 176, height: 52, ...extra
  });
  const module = { label: 'lib/features.ipynb', version: null, members: MEMBERS, count: 3, expanded };
  const nodes = expanded
    ? [node('load'), node('feats', { module }), ...MEMBERS.slice(1).map(m => node(m, { group: 'feats' })), node('train')]
    : [node('load'), node('feats', { module }), node('train')];
  return { direction: 'TB', nodes, edges: [], width: 208, height: 300, layers: 3, crossings: 0, status_order: ORDER };
}

function plan(expanded = false): IPlan {
  return {
    steps: ['load', ...MEMBERS, 'train'].map(name => ({ name, cells: [name.startsWith('feats') ? 3 : 2] })),
    edges: [],
    modules: { feats: { name: 'feats', label: 'lib/features.ipynb', version: null, steps: MEMBERS } },
    layouts: { TB: layout(expanded), LR: { ...layout(expanded), direction: 'LR' } }
  };
}

function run(statuses: Record<string, string>, status = 'succeeded'): IRunDetail {
  const steps: IRunDetail['steps'] = {};
  for (const [name, s] of Object.entries(statuses)) {
    steps[name] = { status: s };
  }
  return { id: 'r1', status, steps };
}

describe('aggregateStatus', () => {
  const of = (statuses: Record<string, string>) => (step: string) => runStepStatus(run(statuses), step);
  it('takes the first status of the order that any member has', () => {
    const all = (s: string): Record<string, string> => {
      const out: Record<string, string> = {};
      MEMBERS.forEach(m => (out[m] = s));
      return out;
    };
    expect(aggregateStatus(MEMBERS, of({ ...all('succeeded'), 'feats.scale': 'failed' }), ORDER)).toBe('failed');
    expect(aggregateStatus(MEMBERS, of({ ...all('reused'), 'feats.stats': 'running' }), ORDER)).toBe('running');
    expect(aggregateStatus(MEMBERS, of(all('reused')), ORDER)).toBe('reused');
    expect(aggregateStatus(MEMBERS, of({ ...all('reused'), 'feats.clean': 'succeeded' }), ORDER)).toBe('succeeded');
  });
  it('follows the order it is given, not one of its own', () => {
    const statuses = of({ feats: 'succeeded', 'feats.clean': 'reused', 'feats.scale': 'succeeded' });
    const members = ['feats', 'feats.clean', 'feats.scale'];
    expect(aggregateStatus(members, statuses, ['reused', 'succeeded'])).toBe('reused');
    expect(aggregateStatus(members, statuses, ['succeeded', 'reused'])).toBe('succeeded');
  });
  it("does not count the binding node's succeeded (it runs no task), but does count its failure", () => {
    expect(aggregateStatus(MEMBERS, of({ feats: 'succeeded', 'feats.clean': 'reused', 'feats.scale': 'reused',
      'feats.stats': 'reused' }), ORDER)).toBe('reused');
    expect(aggregateStatus(MEMBERS, of({ feats: 'failed', 'feats.clean': 'skipped' }), ORDER)).toBe('failed');
  });
  it("falls back to the binding node's status: no order (an older server), or no member in the run", () => {
    expect(aggregateStatus(MEMBERS, of({ feats: 'succeeded', 'feats.clean': 'failed' }), undefined)).toBe('succeeded');
    expect(aggregateStatus(MEMBERS, () => 'notrun', ORDER)).toBe('notrun');
    expect(aggregateStatus(MEMBERS, of({}), ORDER)).toBe('excluded');
    expect(aggregateStatus([], of({}), ORDER)).toBe('notrun');
  });
});

describe('runStepStatus', () => {
  it('reads a step of the watched run; missing: pending while the run goes, else not in it', () => {
    expect(runStepStatus(null, 'a')).toBe('notrun');
    expect(runStepStatus(run({ a: 'reused' }), 'a')).toBe('reused');
    expect(runStepStatus(run({}, 'running'), 'a')).toBe('pending');
    expect(runStepStatus(run({}, 'failed'), 'a')).toBe('excluded');
  });
});

describe('moduleStatus (the module cell\'s one badge)', () => {
  it('aggregates a module step over its members, with the layout\'s order', () => {
    const r = run({ load: 'succeeded', feats: 'succeeded', 'feats.clean': 'succeeded', 'feats.scale': 'failed' }, 'failed');
    expect(moduleStatus(plan(), r, 'feats')).toBe('failed');
    expect(moduleStatus(plan(), r, 'load')).toBe('succeeded');  // not a module: its own
    expect(moduleStatus(plan(), r, 'train')).toBe('excluded');
  });
  it('knows members and order from the plan', () => {
    expect(moduleMembers(plan(), 'feats')).toEqual(MEMBERS);
    expect(moduleMembers(plan(), 'load')).toBeNull();
    expect(moduleMembers(null, 'feats')).toBeNull();
    expect(statusOrder(plan())).toEqual(ORDER);
    const older = plan();
    delete older.layouts!.TB.status_order;
    expect(statusOrder(older)).toEqual(ORDER);  // left to right's
    expect(statusOrder({ steps: [], edges: [] })).toBeUndefined();
  });
});

describe('labels', () => {
  it('names the module and its version, and what the toggle does', () => {
    expect(moduleLabel({ label: 'lib/features.ipynb', version: null })).toBe('lib/features.ipynb');
    expect(moduleLabel({ label: 'features', version: 3 })).toBe('features v3');
    const module = layout().nodes[1].module!;
    expect(toggleTitle(module)).toBe('expand: 3 steps of lib/features.ipynb');
    expect(toggleTitle({ ...module, expanded: true })).toMatch(/^collapse/);
    expect(toggleTitle({ ...module, count: 1 })).toBe('expand: 1 step of lib/features.ipynb');
  });
});

describe('drawnNodeOf', () => {
  it('finds the node a step is drawn as: its own, or the collapsed module hiding it', () => {
    expect(drawnNodeOf(layout(), 'feats.scale')).toBe('feats');
    expect(drawnNodeOf(layout(), 'load')).toBe('load');
    expect(drawnNodeOf(layout(true), 'feats.scale')).toBe('feats.scale');
    expect(drawnNodeOf(layout(), 'gone')).toBeNull();
    expect(drawnNodeOf(null, 'load')).toBeNull();
  });
});

describe('the expand query', () => {
  it('asks for the open modules, none when there are none', () => {
    expect(planEndpoint('a b/nb.ipynb')).toBe('plan?path=a%20b%2Fnb.ipynb');
    expect(planEndpoint('nb.ipynb', [])).toBe('plan?path=nb.ipynb');
    expect(planEndpoint('nb.ipynb', ['feats', 'feats.inner'])).toBe('plan?path=nb.ipynb&expand=feats%2Cfeats.inner');
  });
  it("asks for a run's plan with the same modules open", () => {
    expect(runEndpoint('nb.ipynb', 'r/1')).toBe('runs/r%2F1?path=nb.ipynb');
    expect(runEndpoint('nb.ipynb', 'r1', { expand: ['feats'] })).toBe('runs/r1?path=nb.ipynb');
    expect(runEndpoint('nb.ipynb', 'r1', { plan: true })).toBe('runs/r1?path=nb.ipynb&plan=true');
    expect(runEndpoint('nb.ipynb', 'r1', { plan: true, expand: ['feats'] })).toBe('runs/r1?path=nb.ipynb&plan=true&expand=feats');
  });
});

describe('ExpandSet', () => {
  it('toggles, sorted, and says when it changed', () => {
    const open = new ExpandSet();
    expect(open.names()).toEqual([]);
    expect(open.set('zeta')).toBe(true);
    expect(open.set('feats', true)).toBe(true);
    expect(open.set('feats', true)).toBe(false);
    expect(open.names()).toEqual(['feats', 'zeta']);
    expect(open.set('zeta')).toBe(true);
    expect(open.has('zeta')).toBe(false);
    expect(open.set('zeta', false)).toBe(false);
  });
  it('opens the modules around a nested one, and closes those inside a closed one', () => {
    const open = new ExpandSet();
    open.set('feats.inner', true);
    expect(open.names()).toEqual(['feats', 'feats.inner']);
    open.set('other', true);
    open.set('feats', false);
    expect(open.names()).toEqual(['other']);
    open.set('feats', true);
    expect(open.has('feats.inner')).toBe(false);  // opened again: the nested one collapsed
    open.set('featsx', true);
    open.set('feats', false);
    expect(open.names()).toEqual(['featsx', 'other']);  // a name that only starts alike stays
  });
  it('reveals a hidden step by opening the modules that hold it', () => {
    const modules = ['feats', 'feats.inner'];
    expect(enclosingModules('feats.inner.x', modules)).toEqual(['feats', 'feats.inner']);
    expect(enclosingModules('feats', modules)).toEqual([]);
    const open = new ExpandSet();
    expect(open.reveal('feats.inner.x', modules)).toBe(true);
    expect(open.names()).toEqual(['feats', 'feats.inner']);
    expect(open.reveal('feats.clean', modules)).toBe(false);
    expect(open.reveal('load', modules)).toBe(false);
  });
  it("forgets modules the plan no longer has", () => {
    const open = new ExpandSet();
    open.set('feats.inner', true);
    open.set('old', true);
    expect(open.prune(Object.keys(plan().modules!))).toBe(true);
    expect(open.names()).toEqual(['feats']);
    expect(open.prune(['feats'])).toBe(false);
  });
});

/** Node's require and __dirname (the test runs in Node; the extension's types have no Node). */
declare const require: (name: string) => any;
declare const __dirname: string;

describe('groupColour', () => {
  it("marks a module with the run panel's colour for it (panel.js moduleColour)", () => {
    const fs = require('fs');
    const js: string = fs.readFileSync(`${__dirname}/../../../jupyter_mlpipe/panel/panel.js`, 'utf8');
    const theirs = JSON.parse(/const MODULE_COLOURS = (\[[^\]]*\])/.exec(js)![1]);
    expect(GROUP_COLOURS).toEqual(theirs);
    expect(new Set(['feats', 'prep', 'score', 'eval', 'x'].map(groupColour)).size).toBeGreaterThan(1);
    const hue = (name: string): string => theirs[[...name].reduce((h, ch) => (h * 31 + ch.codePointAt(0)!) >>> 0, 0) % theirs.length];
    expect(groupColour('feats')).toBe(hue('feats'));
  });
});
