/**
 * The designer (#18), as a person uses it at 1280x800 with the file browser open and the
 * side panel on the page: a step's options are a form that rewrites its `%%step` line (the
 * cell's first line changes, Ctrl+Z in the cell restores it, a value the planner's parser
 * refuses shows its message in red and writes nothing), split then merge gives back the
 * original text, and clicking a variable on an edge marks the cell that defines it (green)
 * and the cells that read it (blue), listed in the side panel.
 * The form's screenshot is docs/img/designer-form.png (written again by this test).
 */
import { expect, galata, test } from '@jupyterlab/galata';
import { Page } from '@playwright/test';
import * as path from 'path';

import { execute, openCells, rgb } from './helpers';

const SHOTS = path.resolve(__dirname, '..', 'test-results');
const DOCS_IMG = path.resolve(__dirname, '..', '..', '..', 'docs', 'img');

test.use({
  autoGoto: true,
  viewport: { width: 1280, height: 800 },
  mockSettings: {
    ...galata.DEFAULT_SETTINGS,
    '@jupyterlab/notebook-extension:tracker': {
      ...galata.DEFAULT_SETTINGS['@jupyterlab/notebook-extension:tracker'],
      windowingMode: 'none'
    }
  }
});

const CELLS = [
  'import math',
  '%%step load --deps data.csv\nxs = list(range(10))',
  'ys = [x * 2 for x in xs]',
  'total = sum(ys)',
  '%%step report\nprint(total, len(ys), math.pi)'
];

/** Every cell's text in the open notebook (its model: what would be saved). */
async function sources(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const cells = (window as any).jupyterapp.shell.currentWidget.content.model.cells;
    const out: string[] = [];
    for (let i = 0; i < cells.length; i++) {
      out.push(cells.get(i).sharedModel.getSource());
    }
    return out;
  });
}

/** The first line of cell `index` as its editor shows it. */
function firstLine(page: Page, index: number) {
  return page.locator('.jp-Notebook .jp-Cell').nth(index).locator('.cm-content .cm-line').first();
}

test('the designer form rewrites the step line, undoably; refusals are red; split/merge; a variable marks its cells', async ({ page, tmpPath }) => {
  await execute(page, 'filebrowser:activate');
  await page.contents.uploadContent('a\n1\n', 'text', `${tmpPath}/data.csv`);
  await openCells(page, `${tmpPath}/designer.ipynb`, CELLS);
  await execute(page, 'mlpipe:show-plan');
  const side = page.locator('#mlpipe-side-panel');
  await expect(side).toBeVisible();
  await expect(page.locator('.jp-FileBrowser')).toBeVisible();
  await expect(side.locator('g[data-step]')).toHaveCount(2, { timeout: 60000 });

  // ---- the form of a step: its options as written
  await side.locator('g[data-step="load"]').click();
  const form = side.locator('.mlps-design-form[data-step="load"]');
  await expect(form).toBeVisible();
  const gpus = form.locator('input[data-flag="--gpus"]');
  await expect(gpus).toHaveValue('');
  await side.locator('.mlps-designer').scrollIntoViewIfNeeded();

  // a change rewrites the cell's first line, the other flags kept
  await gpus.fill('2');
  await gpus.press('Enter');
  await expect(firstLine(page, 1)).toHaveText('%%step load --deps data.csv --gpus 2');
  expect((await sources(page))[1]).toBe('%%step load --deps data.csv --gpus 2\nxs = list(range(10))');
  await side.locator('.mlps-designer').screenshot({ path: path.join(DOCS_IMG, 'designer-form.png') });

  // Ctrl+Z in the cell undoes it, like any edit
  await page.locator('.jp-Notebook .jp-Cell').nth(1).locator('.cm-content').click();
  await page.keyboard.press('Control+z');
  await expect(firstLine(page, 1)).toHaveText('%%step load --deps data.csv');
  expect(await sources(page)).toEqual(CELLS);

  // a value the parser refuses: its message in red under the field, nothing written
  await side.locator('g[data-step="load"]').click();
  const memory = side.locator('.mlps-design-form[data-step="load"] input[data-flag="--memory"]');
  await memory.fill('lots');
  await memory.press('Enter');
  const error = side.locator('.mlps-design-error[data-flag="--memory"]');
  await expect(error).toBeVisible();
  await expect(error).toContainText('--memory must be a size such as 4GB');
  const colour = await error.evaluate(n => getComputedStyle(n).color);
  const [r, g, b] = colour.match(/\d+/g)!.map(Number);
  expect(r, `the message is red (${colour})`).toBeGreaterThan(150);
  expect(g).toBeLessThan(100);
  expect(b).toBeLessThan(100);
  expect(await sources(page)).toEqual(CELLS);
  await side.locator('.mlps-designer').screenshot({ path: path.join(SHOTS, 'designer-form-refused.png') });
  await memory.fill('');
  await memory.press('Enter');
  await expect(error).toBeHidden();

  // ---- split at a cell, then merge it back: the original text
  await page.notebook.selectCells(3);
  await execute(page, 'mlpipe:split-step');
  const split = await sources(page);
  expect(split[3]).toMatch(/^%%step \w+\ntotal = sum\(ys\)$/);
  await expect(page.locator('.jp-Notebook .jp-Cell').nth(3).locator('.mlp-badge')).toBeVisible();
  await page.notebook.selectCells(3);
  await execute(page, 'mlpipe:merge-step');
  expect(await sources(page)).toEqual(CELLS);
  // merging the first step is refused, with the reason
  await page.notebook.selectCells(2);
  // (the command waits on its dialog: started, not awaited)
  await page.evaluate(() => void (window as any).jupyterapp.commands.execute('mlpipe:merge-step'));
  const dialog = page.locator('.jp-Dialog');
  await expect(dialog).toContainText("'load' is the first step");
  await dialog.locator('button', { hasText: 'Ok' }).click();
  expect(await sources(page)).toEqual(CELLS);

  // ---- what flows along an edge: click it, click a variable, its cells are marked
  const edge = side.locator('g.mlps-edge[data-from="load"][data-to="report"]');
  await edge.locator('.mlps-edge-chip').click();
  const flow = side.locator('.mlps-flow[data-from="load"][data-to="report"]');
  await expect(flow).toBeVisible();
  await expect(flow.locator('.mlps-flow-var')).toHaveCount(2);
  await flow.locator('.mlps-flow-var[data-variable="total"]').click();
  const cells = page.locator('.jp-Notebook .jp-Cell');
  await expect(cells.nth(3)).toHaveClass(/mlps-cell-defines/);
  await expect(cells.nth(4)).toHaveClass(/mlps-cell-reads/);
  await expect(cells.nth(2)).not.toHaveClass(/mlps-cell-(defines|reads)/);
  expect(await cells.nth(3).evaluate(n => getComputedStyle(n).outlineColor)).toBe(rgb('#1a7f37'));
  expect(await cells.nth(4).evaluate(n => getComputedStyle(n).outlineColor)).toBe(rgb('#0969da'));
  const listed = flow.locator('[data-role="flow-cells"]');
  await expect(listed).toContainText('defined in cell [4]');
  await expect(listed).toContainText('read in cell [5]');
  await page.screenshot({ path: path.join(SHOTS, 'designer-variable-cells.png') });
  // another variable moves the marks
  await flow.locator('.mlps-flow-var[data-variable="ys"]').click();
  await expect(cells.nth(2)).toHaveClass(/mlps-cell-defines/);
  await expect(cells.nth(3)).not.toHaveClass(/mlps-cell-defines/);
  await expect(cells.nth(4)).toHaveClass(/mlps-cell-reads/);
});
