/**
 * The extension in a real JupyterLab: badges, the side panel, a run, the
 * "Make this cell a step" command. The quickstart notebook has 4 steps:
 * load -> features -> train -> evaluate.
 */
import { expect, galata, test } from '@jupyterlab/galata';
import { Page } from '@playwright/test';
import * as path from 'path';

const NOTEBOOK = 'quickstart.ipynb';
const SOURCE = path.resolve(__dirname, '..', '..', '..', 'notebooks', NOTEBOOK);
const SHOTS = path.resolve(__dirname, '..', 'test-results');
const STEPS = ['load', 'features', 'train', 'evaluate'];

test.use({
  autoGoto: true,
  // render every cell: badges are looked up on all of them
  mockSettings: {
    ...galata.DEFAULT_SETTINGS,
    '@jupyterlab/notebook-extension:tracker': {
      ...galata.DEFAULT_SETTINGS['@jupyterlab/notebook-extension:tracker'],
      windowingMode: 'none'
    }
  }
});

async function openQuickstart(page: Page & any, tmpPath: string): Promise<void> {
  await page.contents.uploadFile(SOURCE, `${tmpPath}/${NOTEBOOK}`);
  await page.notebook.openByPath(`${tmpPath}/${NOTEBOOK}`);
  await page.notebook.activate(NOTEBOOK);
}

async function execute(page: Page, command: string): Promise<void> {
  await page.evaluate(async (id: string) => {
    await (window as any).jupyterapp.commands.execute(id);
  }, command);
}

async function cellSource(page: Page, index: number): Promise<string> {
  return page.evaluate((i: number) => {
    const panel = (window as any).jupyterapp.shell.currentWidget;
    return panel.content.model.cells.get(i).sharedModel.getSource();
  }, index);
}

/** The index of the first cell whose source starts with `prefix`. */
async function cellIndex(page: Page, prefix: string): Promise<number> {
  return page.evaluate((p: string) => {
    const cells = (window as any).jupyterapp.shell.currentWidget.content.model.cells;
    for (let i = 0; i < cells.length; i++) {
      if (cells.get(i).sharedModel.getSource().startsWith(p)) {
        return i;
      }
    }
    return -1;
  }, prefix);
}

const sidePanel = (page: Page) => page.locator('#mlpipe-side-panel');

test.describe('jupyter-mlpipe in JupyterLab', () => {
  test.beforeEach(async ({ page, tmpPath }) => {
    await openQuickstart(page, tmpPath);
  });

  test('badges appear on the 4 step cells', async ({ page }) => {
    const badges = page.locator('.jp-Notebook .mlp-badge-step');
    await expect(badges).toHaveCount(4);
    expect(await badges.evaluateAll(nodes => nodes.map(n => (n as HTMLElement).dataset.mlpStep))).toEqual(STEPS);
    await expect(badges.first()).toContainText('cpu');
    await expect(badges.first()).toHaveAttribute('data-mlp-status', /notrun|succeeded|reused/);
    // the badge follows the cell text live, with no save and no server
    const load = await cellIndex(page, '%%step load');
    expect(load).toBeGreaterThan(0);
    await page.notebook.setCell(load, 'code', '%%step load_data --compute gpu\nX, y = load_wine(return_X_y=True)');
    await expect(page.locator('.mlp-badge-step[data-mlp-step="load_data"]')).toContainText('gpu');
    await page.locator('.jp-Notebook .mlp-badge-step').first().screenshot({ path: path.join(SHOTS, 'badge.png') });
  });

  test('the side panel shows 4 nodes and clicking one selects its cell', async ({ page }) => {
    await execute(page, 'mlpipe:show-plan');
    const panel = sidePanel(page);
    await expect(panel).toBeVisible();
    const nodes = panel.locator('.mlps-node');
    await expect(nodes).toHaveCount(4);
    expect(await nodes.evaluateAll(ns => ns.map(n => n.getAttribute('data-step')))).toEqual(STEPS);
    await expect(panel.locator('.mlps-edge')).toHaveCount(4);

    await panel.locator('.mlps-node[data-step="train"]').click();
    await expect(page.locator('.jp-Notebook .jp-Cell.jp-mod-active .mlp-badge-step')).toHaveAttribute('data-mlp-step', 'train');
    await expect(panel.locator('.mlps-details[data-step="train"]')).toBeVisible();
    await panel.screenshot({ path: path.join(SHOTS, 'side-panel.png') });
  });

  test('"Make this cell a step" inserts the magic with a suggested name', async ({ page }) => {
    await page.notebook.addCell('code', 'report = {"accuracy": accuracy}\nprint(report)');
    const index = (await page.notebook.getCellCount()) - 1;
    await page.notebook.selectCells(index);
    // the button in the cell toolbar of the active cell
    const button = page.locator('.jp-Cell.jp-mod-active .jp-cell-toolbar [data-command="mlpipe:make-step"]');
    await expect(button).toBeVisible();
    await button.click();
    const input = page.locator('.jp-Dialog input');
    await expect(input).toHaveValue('report');
    await page.locator('.jp-Dialog').screenshot({ path: path.join(SHOTS, 'make-step-dialog.png') });
    await page.locator('.jp-Dialog .jp-mod-accept').click();
    await expect.poll(() => cellSource(page, index)).toBe('%%step report\nreport = {"accuracy": accuracy}\nprint(report)');
    await expect(page.locator('.jp-Notebook .mlp-badge-step')).toHaveCount(5);
  });

  test('continuation and scratch cells are marked', async ({ page }) => {
    const scratch = page.locator('.jp-Notebook .mlp-badge-scratch');
    await expect(page.locator('.jp-Notebook .mlp-badge-step')).toHaveCount(4);
    const before = await scratch.count();
    await page.notebook.addCell('code', 'print(accuracy)');
    await page.notebook.addCell('code', '%%scratch\nmodel.coef_');
    await expect(scratch).toHaveCount(before + 1);
    const last = page.locator('.jp-Notebook .mlp-badge-continuation').last();
    await expect(last).toContainText('step evaluate');
  });

  test('"Run pipeline" runs it and the badges turn succeeded', async ({ page }) => {
    await execute(page, 'mlpipe:show-plan');
    await expect(sidePanel(page).locator('.mlps-node')).toHaveCount(4);
    await execute(page, 'mlpipe:run-pipeline');
    // the first run starts a local Ray: allow it time
    const done = page.locator('.jp-Notebook .mlp-badge-step[data-mlp-status="succeeded"]');
    await expect(done).toHaveCount(4, { timeout: 180000 });
    await expect(page.locator('.mlp-badge-step .mlp-badge-duration')).toHaveCount(4);
    const panel = sidePanel(page);
    await expect(panel.locator('.mlps-node[data-status="succeeded"]')).toHaveCount(4);
    await expect(panel.locator('.mlps-run-item')).toHaveCount(1);
    await expect(panel.locator('.mlps-runline')).toHaveAttribute('data-mlp-status', 'succeeded');
    await panel.locator('.mlps-node[data-step="evaluate"]').click();
    await expect(panel.locator('.mlps-open-notebook')).toBeEnabled();
    await panel.screenshot({ path: path.join(SHOTS, 'side-panel-after-run.png') });
    await page.screenshot({ path: path.join(SHOTS, 'lab-after-run.png') });
    // the executed notebook of the step (in the hidden .mlpipe folder) opens in a new tab,
    // read-only, through the extension's "mlpipe" drive
    await panel.locator('.mlps-open-notebook').click();
    await expect(page.locator('.jp-NotebookPanel')).toHaveCount(2);
    const tab = page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab', { hasText: 'evaluate.ipynb' });
    await expect(tab).toBeVisible();
    await expect
      .poll(() => page.evaluate(() => (window as any).jupyterapp.shell.currentWidget?.context?.path ?? ''))
      .toMatch(/^mlpipe:\d{8}-\d{6}-[0-9a-f]{6}\/evaluate\.ipynb$/);
    const opened = await page.evaluate(() => {
      const widget = (window as any).jupyterapp.shell.currentWidget;
      return { id: widget.id as string, canSave: widget.context.canSave as boolean };
    });
    const executed = page.locator(`[id="${opened.id}"]`);
    await expect(executed.locator('.jp-Cell .jp-InputArea-editor').filter({ hasText: 'accuracy_score(y_test' })).toHaveCount(1);
    expect(opened.canSave).toBe(false);
    await expect(page.locator('.jp-Dialog')).toHaveCount(0);
    // no badges on the record, and the side panel still shows the pipeline it came from
    await expect(executed.locator('.mlp-badge-step')).toHaveCount(0);
    await expect(panel.locator('.mlps-node[data-status="succeeded"]')).toHaveCount(4);
    await page.screenshot({ path: path.join(SHOTS, 'executed-notebook.png') });
  });
});
