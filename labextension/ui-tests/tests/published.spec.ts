/**
 * Published pipelines in a real JupyterLab: the "Publish this pipeline" command (asks for the
 * name, shows the new version and a curl example with a placeholder key) and the Published panel
 * (this notebook's versions). An empty mlpipe.toml at the server's root makes the root the
 * workspace of the notebooks below it, as docs/publishing.md says.
 */
import { expect, test } from '@jupyterlab/galata';
import * as path from 'path';

const NOTEBOOK = 'quickstart.ipynb';
const SOURCE = path.resolve(__dirname, '..', '..', '..', 'notebooks', NOTEBOOK);
const SHOTS = path.resolve(__dirname, '..', 'test-results');

test.use({ autoGoto: true });

test('publish this pipeline, then see it in the Published panel', async ({ page, tmpPath }) => {
  await page.contents.uploadContent('', 'text', 'mlpipe.toml');
  try {
    await page.contents.uploadFile(SOURCE, `${tmpPath}/${NOTEBOOK}`);
    await page.notebook.openByPath(`${tmpPath}/${NOTEBOOK}`);
    await page.notebook.activate(NOTEBOOK);

    // not awaited: the command waits for the dialogs answered below
    await page.evaluate(() => {
      void (window as any).jupyterapp.commands.execute('mlpipe:publish');
    });
    const ask = page.locator('.jp-Dialog');
    await expect(ask.locator('input')).toBeVisible();
    await ask.locator('input').fill('quick');
    await ask.locator('.jp-Dialog-button.jp-mod-accept').click();

    const made = page.locator('.jp-Dialog .mlps-published-dialog');
    await expect(made.locator('.mlps-published-made')).toHaveText('quick v1');
    const curl = made.locator('.mlps-published-curl');
    await expect(curl).toContainText('mlpipe/api/pipelines/quick/runs');
    await expect(curl).toContainText('Authorization: Bearer <YOUR_KEY>');
    await page.screenshot({ path: path.join(SHOTS, 'published-dialog.png') });
    await page.locator('.jp-Dialog .jp-Dialog-button.jp-mod-accept').click();

    await page.evaluate(() => (window as any).jupyterapp.shell.activateById('mlpipe-published-panel'));
    const panel = page.locator('#mlpipe-published-panel');
    const pipeline = panel.locator('[data-name="quick"]');
    await expect(pipeline).toBeVisible();
    await expect(pipeline.locator('[data-version="1"]')).toContainText('v1 (default)');
    await expect(pipeline).toContainText('No triggered runs yet.');

    // a trigger over REST (the browser's own Jupyter credentials): the run is marked in both panels
    const started = await page.evaluate(async () => {
      const xsrf = document.cookie.match(/_xsrf=([^;]+)/)?.[1] ?? '';
      const response = await fetch('/mlpipe/api/pipelines/quick/runs', {
        method: 'POST',
        headers: { 'X-XSRFToken': xsrf },
        body: JSON.stringify({ params: { C: 0.5 } })
      });
      return { status: response.status, body: await response.json() };
    });
    expect(started.status).toBe(202);
    const run = started.body.run_id as string;
    await page.evaluate(() => (window as any).jupyterapp.shell.activateById('mlpipe-side-panel'));
    await page.locator('#mlpipe-side-panel .mlps-refresh').click();
    const item = page.locator(`#mlpipe-side-panel [data-run="${run}"]`);
    await expect(item.locator('.mlps-run-published')).toHaveText('quick v1 (rest)', { timeout: 120000 });
    await page.evaluate(() => (window as any).jupyterapp.shell.activateById('mlpipe-published-panel'));
    await expect(pipeline.locator(`[data-run="${run}"]`)).toContainText('v1', { timeout: 30000 });
    await expect(pipeline.locator(`[data-run="${run}"]`)).toContainText('rest');
    // let the run finish before the next test (it shares the server and its Ray)
    const status = await page.evaluate(async (id: string) => {
      for (let i = 0; i < 240; i++) {
        const body = await (await fetch(`/mlpipe/api/runs/${id}`)).json();
        if (body.status !== 'running' && body.status !== 'queued') {
          return body.status;
        }
        await new Promise(resolve => setTimeout(resolve, 500));
      }
      return 'still running';
    }, run);
    expect(status).toBe('succeeded');
    await page.screenshot({ path: path.join(SHOTS, 'published-panel.png') });
  } finally {
    await page.contents.deleteFile('mlpipe.toml');
  }
});
