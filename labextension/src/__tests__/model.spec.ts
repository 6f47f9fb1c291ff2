/** The side panel's model asks for the plan with the modules a person opened, per notebook (#16). */
import type { IPlan } from '../api';

const asked: { path: string; expand: string[]; resolve: (plan: IPlan) => void }[] = [];

jest.mock('../api', () => ({
  MlpipeApiError: class extends Error {},
  getPlan: (path: string, expand: readonly string[] = []) =>
    new Promise<IPlan>(resolve => asked.push({ path, expand: [...expand], resolve })),
  listRuns: async () => [],
  getRun: async () => ({ id: 'r', status: 'succeeded', steps: {} })
}));

(globalThis as any).window = {
  setInterval: () => 0, clearInterval: () => undefined, setTimeout: () => 0, clearTimeout: () => undefined
};

import { PipelineModel } from '../model';

function plan(open: string[], modules = ['feats', 'other']): IPlan {
  const layout = {
    direction: 'TB' as const, edges: [], width: 1, height: 1, layers: 1, crossings: 0,
    nodes: open.map(name => ({ name, compute: 'cpu', layer: 0, order: 0, x: 0, y: 0, width: 1, height: 1 }))
  };
  const byName: NonNullable<IPlan['modules']> = {};
  for (const name of modules) {
    byName[name] = { name, label: `${name}.ipynb`, steps: [name, `${name}.a`] };
  }
  return { steps: [], edges: [], modules: byName, layouts: { TB: layout, LR: { ...layout, direction: 'LR' } } };
}

/** Answer the last request with a plan laid out with what it asked open. */
async function answer(index = asked.length - 1, modules?: string[]): Promise<void> {
  asked[index].resolve(plan(asked[index].expand, modules));
  await new Promise(resolve => setTimeout(resolve, 0));
}

beforeEach(() => {
  asked.length = 0;
});

describe('PipelineModel: the open modules', () => {
  it('asks for the plan with the modules opened, and closed again', async () => {
    const model = new PipelineModel('dir/nb.ipynb');
    const first = model.refreshPlan();
    expect(asked.map(a => a.expand)).toEqual([[]]);
    await answer();
    await first;
    const opened = model.setExpanded('feats');
    expect(asked[1]).toMatchObject({ path: 'dir/nb.ipynb', expand: ['feats'] });
    await answer();
    await opened;
    expect(model.expanded).toEqual(['feats']);
    expect(model.isExpanded('feats')).toBe(true);
    expect(model.plan?.layouts?.TB.nodes.map(n => n.name)).toEqual(['feats']);
    void model.setExpanded('feats');  // toggled: closed
    expect(asked[2].expand).toEqual([]);
    await model.setExpanded('other', false);  // no change: nothing asked
    expect(asked).toHaveLength(3);
    model.dispose();
  });

  it('keeps the newest answer when two toggles cross', async () => {
    const model = new PipelineModel('nb.ipynb');
    void model.setExpanded('feats', true);
    void model.setExpanded('other', true);
    expect(asked.map(a => a.expand)).toEqual([['feats'], ['feats', 'other']]);
    await answer(1);
    await answer(0);  // the older answer comes last: ignored
    expect(model.plan?.layouts?.TB.nodes.map(n => n.name)).toEqual(['feats', 'other']);
    model.dispose();
  });

  it('forgets a module the plan no longer has, and keeps one set per notebook', async () => {
    const a = new PipelineModel('a.ipynb');
    const b = new PipelineModel('b.ipynb');
    void a.setExpanded('feats', true);
    void a.setExpanded('other', true);
    await answer(1, ['feats']);  // `other` was removed from the notebook
    expect(a.expanded).toEqual(['feats']);
    expect(b.expanded).toEqual([]);
    void b.refreshPlan();
    expect(asked[asked.length - 1]).toMatchObject({ path: 'b.ipynb', expand: [] });
    void a.reveal('feats.a');  // already open: nothing asked
    expect(asked).toHaveLength(3);
    a.dispose();
    b.dispose();
  });
});
