/**
 * Where the user looks (#18 items 4 and 9), as a person sees it at 1280x800 with the
 * file browser open: a bad `%%step` line and a plan error turn their cell's badge red
 * with the message on hover; "Run pipeline" from the palette ends with a notification
 * that names the failing step and links to its cell; the side panel shows the error as
 * text; a step edited after a run says so on its badge.
 */
import { expect, galata, test } from '@jupyterlab/galata';
import * as path from 'path';

import { activeCell, cellIndex, execute, openCells, rgb } from './helpers';

const SHOTS = path.resolve(__dirname, '..', 'test-results');

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

async function failedColour(page: any, tmpPath: string, name: string): Promise<string> {
  const plan = await page.request.get(`/mlpipe/api/plan?path=${encodeURIComponent(`${tmpPath}/${name}`)}`);
  const looks = (await plan.json()).looks ?? {};
  return rgb(looks.failed?.color ?? '#cf222e');
}

test('a bad %%step line and a plan error turn their badge red, the message on hover', async ({ page, tmpPath }) => {
  await execute(page, 'filebrowser:activate');
  const name = 'bad.ipynb';
  await openCells(page, `${tmpPath}/${name}`, ['%%step a\nx = 1', '%%step a\ny = x + 1', '%%step 9lives\nz = 2']);
  const red = rgb('#cf222e');

  // the step line: parsed in the browser, no server needed
  const badLine = page.locator('.jp-Notebook .jp-Cell').nth(2).locator('.mlp-badge');
  await expect(badLine).toHaveClass(/mlp-badge-bad/);
  await expect(badLine.locator('.mlp-badge-error')).toHaveText('%%step line: invalid step name "9lives"');
  expect(await badLine.evaluate(n => getComputedStyle(n).borderLeftColor)).toBe(red);
  await expect(badLine).toHaveAttribute('title', /invalid step name "9lives"/);

  // the plan error (from the server): on the cell it names, counted from 1 as JupyterLab counts
  const planError = page.locator('.jp-Notebook .jp-Cell').nth(1).locator('.mlp-badge');
  await expect(planError).toHaveClass(/mlp-badge-bad/, { timeout: 30000 });
  await expect(planError.locator('.mlp-badge-error')).toContainText("Duplicate step name 'a': cell 2 and cell 1");
  await expect(planError).toHaveAttribute('title', /unique/);
  expect(await planError.evaluate(n => getComputedStyle(n).borderLeftColor)).toBe(red);
  const errorText = planError.locator('.mlp-badge-error');
  expect(await errorText.evaluate(n => getComputedStyle(n).color)).toBe(red);
  await expect(page.locator('.jp-Notebook .jp-Cell').nth(0).locator('.mlp-badge')).not.toHaveClass(/mlp-badge-bad/);
  const box = (await planError.boundingBox())!;
  expect(box.x + box.width).toBeLessThanOrEqual(1280);
  await page.locator('.jp-Notebook').screenshot({ path: path.join(SHOTS, 'badges-plan-error.png') });
});

test('a palette run that fails notifies, links to the step, and the side panel reads the error', async ({ page, tmpPath }) => {
  await execute(page, 'filebrowser:activate');
  const name = 'fails.ipynb';
  await openCells(page, `${tmpPath}/${name}`, [
    'import math',
    '%%step prep\nxs = [1, 2, 3]',
    '%%step divide\ntotal = sum(xs) / 0'
  ]);
  const red = await failedColour(page, tmpPath, name);
  await execute(page, 'mlpipe:run-pipeline');

  const toast = page.locator('.jp-toastContainer .Toastify__toast', { hasText: "failed in step 'divide'" });
  await expect(toast).toBeVisible({ timeout: 180000 });
  await expect(toast).toContainText('ZeroDivisionError: division by zero (cell 3)');
  await page.screenshot({ path: path.join(SHOTS, 'palette-run-failed-notification.png') });

  // the link: the step's cell becomes the active one, and the side panel shows its details
  await execute(page, 'notebook:move-cursor-up'); // somewhere else first
  await toast.getByRole('button', { name: 'Go to step divide' }).click();
  await expect.poll(() => activeCell(page)).toBe(await cellIndex(page, '%%step divide'));
  const side = page.locator('#mlpipe-side-panel');
  await expect(side).toBeVisible();
  const error = side.locator('[data-role="step-error"]');
  await expect(error).toBeVisible();
  await expect(error).toContainText("Step 'divide' failed in cell 3: ZeroDivisionError: division by zero");
  await expect(error).not.toContainText('"ename"');
  expect(await error.evaluate(n => getComputedStyle(n).borderLeftColor)).toBe(red);
  // the selected node: highlighted, and inside the window with the file browser open
  const node = side.locator('g[data-step="divide"]');
  await expect(node).toHaveClass(/mlps-selected/);
  const nodeBox = (await node.boundingBox())!;
  expect(nodeBox.x).toBeGreaterThanOrEqual(0);
  expect(nodeBox.x + nodeBox.width).toBeLessThanOrEqual(1280);
  await side.screenshot({ path: path.join(SHOTS, 'side-panel-step-error.png') });

  // a step edited since that run says so on its badge (once saved: the plan is the saved notebook)
  const prep = await cellIndex(page, '%%step prep');
  await page.notebook.setCell(prep, 'code', '%%step prep\nxs = [1, 2, 3, 4]');
  await page.notebook.save();
  const badge = page.locator('.mlp-badge-step[data-mlp-step="prep"]');
  await expect(badge.locator('.mlp-badge-edited')).toHaveText('✎ edited since the last run', { timeout: 30000 });
  await expect(page.locator('.mlp-badge-step[data-mlp-step="divide"] .mlp-badge-edited')).toHaveCount(0);
});
