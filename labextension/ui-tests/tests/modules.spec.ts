/**
 * A module step is one node that can be expanded (#16), as a person sees it at 1280x800 with the
 * file browser open and the run panel widget and the side panel on the page together: the notebook's
 * `%%step feats --module lib/features.ipynb` is ONE side panel node `feats` with the module's label,
 * no `feats.clean`; its toggle shows the module's steps (framed as the module's) and hides them again;
 * after a run the collapsed node has the succeeded look and its details list each step with its
 * status; the module cell has one badge, with the module's status.
 */
import { expect, test } from '@jupyterlab/galata';
import * as path from 'path';

import { cellIndex, CellSpec, execute, labPage, notebookJson, openCells, rgb } from './helpers';

const SHOTS = path.resolve(__dirname, '..', 'test-results');
const VIEWPORT = { width: 1280, height: 800 };

test.use(labPage(VIEWPORT));

/** The module notebook (tests/test_modules.py's LIB): a `parameters` cell and three steps. */
const LIB: CellSpec[] = [
  '%load_ext jupyter_mlpipe',
  'def norm(v, w):\n    return [x / w for x in v]',
  { source: 'raw = None\nwindow = 3\nscale = 2.0', tags: ['parameters'] },
  '%%step clean\ndf = [x for x in raw if x is not None]',
  '%%step scale\nX = norm(df, window)\nX = [x * scale for x in X]\nn = len(X)',
  '%%step stats\nsummary = {\'mean\': sum(df) / len(df), \'n\': len(df)}'
];

const USER: CellSpec[] = [
  '%load_ext jupyter_mlpipe',
  { source: 'k = 4', tags: ['parameters'] },
  '%%step load\ndf = [1, None, 2, 3, k]',
  '%%step feats --module lib/features.ipynb\nraw = df\nwindow = 7',
  '%%step train\nmodel = sum(X) + n + len(df)\nmeans = summary',
  '%pipeline show',
  '%pipeline run'
];

const MEMBERS = ['feats', 'feats.clean', 'feats.scale', 'feats.stats'];

test('a module step is one node: its label, a toggle that shows its steps, the succeeded look after a run, one badge', async ({ page, tmpPath }) => {
  await execute(page, 'filebrowser:activate');
  await page.contents.uploadContent(notebookJson(LIB), 'text', `${tmpPath}/lib/features.ipynb`);
  const name = 'uses_module.ipynb';
  await openCells(page, `${tmpPath}/${name}`, USER);
  await page.notebook.save();
  // the run panel widget (`%pipeline show`: the plan, nothing runs) and the side panel, together
  await page.notebook.runCell(0);
  await page.notebook.runCell(await cellIndex(page, '%pipeline show'));
  await execute(page, 'mlpipe:show-plan');
  const side = page.locator('#mlpipe-side-panel');
  await expect(side).toBeVisible();
  await expect(page.locator('.jp-FileBrowser')).toBeVisible();
  const widget = page.locator('.jp-Notebook [data-testid="mlpipe-run-panel"]').first();

  // ---- collapsed: one node `feats` with the module's label; none of its steps
  const graph = side.locator('.mlps-graph');
  const feats = graph.locator('g[data-step="feats"]');
  await expect(feats).toHaveCount(1, { timeout: 60000 });
  await expect(graph.locator('g[data-step]')).toHaveCount(3);
  await expect(graph.locator('g[data-step="feats.clean"]')).toHaveCount(0);
  const label = feats.locator('.mlps-module-label');
  await expect(label).toHaveText('lib/features.ipynb');
  await expect(label).toBeVisible();
  await expect(feats).toHaveAttribute('data-status', 'notrun');
  const toggle = feats.locator('[data-role="module-toggle"]');
  await expect(toggle).toBeVisible();
  await expect(toggle.locator('text')).toHaveText('▸');
  await expect(toggle.locator('title')).toHaveText('expand: 3 steps of lib/features.ipynb');
  // the widget draws the same plan: one node for the module
  await expect(widget.locator('g[data-step="feats"]')).toHaveCount(1, { timeout: 60000 });
  await expect(widget.locator('g[data-step="feats.clean"]')).toHaveCount(0);

  // ---- the toggle shows the module's steps, framed as its own; the node is not selected by it
  await toggle.click();
  for (const member of MEMBERS.slice(1)) {
    const node = graph.locator(`g[data-step="${member}"]`);
    await expect(node).toBeVisible();
    await expect(node).toHaveAttribute('data-group', 'feats');
    await expect(node.locator('rect.mlps-group-frame')).toHaveCount(1);
  }
  await expect(graph.locator('g[data-step]')).toHaveCount(6);
  await expect(feats.locator('[data-role="module-toggle"] text')).toHaveText('▾');
  await expect(feats.locator('[data-role="module-toggle"] title')).toContainText('collapse');
  await expect(feats).not.toHaveClass(/mlps-selected/);
  await side.screenshot({ path: path.join(SHOTS, 'modules-side-panel-open.png') });
  // and closes again
  await feats.locator('[data-role="module-toggle"]').click();
  await expect(graph.locator('g[data-step="feats.clean"]')).toHaveCount(0);
  await expect(graph.locator('g[data-step]')).toHaveCount(3);

  // ---- a run: the collapsed node has the succeeded look
  await page.notebook.runCell(await cellIndex(page, '%pipeline run'));
  const ran = page.locator('.jp-Notebook [data-testid="mlpipe-run-panel"][data-run-status]').last();
  await expect(ran).toHaveAttribute('data-run-status', 'succeeded', { timeout: 180000 });
  await expect(feats).toHaveAttribute('data-status', 'succeeded', { timeout: 30000 });
  const looks = (await (await page.request.get(`/mlpipe/api/plan?path=${encodeURIComponent(`${tmpPath}/${name}`)}`)).json()).looks;
  const boxStroke = await feats.locator('rect.mlps-box').evaluate(n => getComputedStyle(n).stroke);
  expect(boxStroke).toBe(rgb(looks.succeeded.color));
  expect(await feats.locator('text.mlps-icon').evaluate(n => getComputedStyle(n).fill)).toBe(rgb(looks.succeeded.color));
  await expect(feats.locator('text.mlps-icon')).toHaveText(looks.succeeded.icon);

  // ---- the module cell: one badge, the module's status
  const at = await cellIndex(page, '%%step feats');
  const cell = page.locator('.jp-Notebook .jp-Cell').nth(at);
  const badges = cell.locator('.mlp-badge');
  await expect(badges).toHaveCount(1);
  await expect(badges).toHaveAttribute('data-mlp-status', 'succeeded');
  await expect(badges).toContainText('lib/features.ipynb');
  await expect(page.locator('.jp-Notebook .mlp-badge[data-mlp-step^="feats"]')).toHaveCount(1);

  // ---- selected, the collapsed module's details list its steps with their statuses
  await feats.click();
  await expect(feats).toHaveClass(/mlps-selected/);
  const details = side.locator('.mlps-details[data-step="feats"]');
  await expect(details).toBeVisible();
  const members = details.locator('[data-role="module-members"] li');
  await expect(members).toHaveCount(MEMBERS.length);
  for (const [i, member] of MEMBERS.entries()) {
    await expect(members.nth(i)).toHaveAttribute('data-step', member);
    await expect(members.nth(i)).toHaveAttribute('data-status', 'succeeded');
  }
  await side.screenshot({ path: path.join(SHOTS, 'modules-side-panel.png') });
  // a step in the list: the module opens and that step is selected
  await members.nth(2).click();
  const scale = graph.locator('g[data-step="feats.scale"]');
  await expect(scale).toHaveClass(/mlps-selected/);
  await expect(scale).toHaveAttribute('data-status', 'succeeded');
  await page.screenshot({ path: path.join(SHOTS, 'modules-page.png') });
});
