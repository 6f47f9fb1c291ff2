/**
 * The run panel widget (after `%pipeline run` in the notebook) and the side
 * panel on the page at once, at 1440x900: neither one's styles reach into the
 * other. Checked as a person sees it: the side panel's nodes have their
 * colours (the statuses' looks, from the server), names and edges, its step
 * details have the panel's width, and the widget keeps its own look.
 */
import { expect, test } from '@jupyterlab/galata';
import { Locator, Page } from '@playwright/test';
import * as path from 'path';

import { labPage } from './helpers';

const NOTEBOOK = 'quickstart.ipynb';
const SOURCE = path.resolve(__dirname, '..', '..', '..', 'notebooks', NOTEBOOK);
const SHOTS = path.resolve(__dirname, '..', 'test-results');
const STEPS = ['load', 'features', 'train', 'evaluate'];
const VIEWPORT = { width: 1440, height: 900 };

test.use(labPage(VIEWPORT));

/** `#1a7f37` as a computed style reads it: `rgb(26, 127, 55)`. */
function rgb(hex: string): string {
  const n = parseInt(hex.slice(1), 16);
  return `rgb(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255})`;
}

interface IPainted {
  fill: string;
  stroke: string;
  strokeOpacity: string;
  opacity: string;
  display: string;
  visibility: string;
  text: string;
  box: { x: number; y: number; width: number; height: number };
}

/** What a person sees of each element: its computed paint, its text and where it is on screen. */
async function painted(locator: Locator): Promise<IPainted[]> {
  return locator.evaluateAll(elements =>
    elements.map(element => {
      const style = getComputedStyle(element);
      const r = element.getBoundingClientRect();
      return {
        fill: style.fill,
        stroke: style.stroke,
        strokeOpacity: style.strokeOpacity,
        opacity: style.opacity,
        display: style.display,
        visibility: style.visibility,
        text: element.textContent ?? '',
        box: { x: r.x, y: r.y, width: r.width, height: r.height }
      };
    })
  );
}

/** Inside the window; `line`: a straight edge may have no width or no height, not both. */
function expectInViewport(box: IPainted['box'], what: string, line = false): void {
  if (line) {
    expect.soft(box.width + box.height, `${what} has a length`).toBeGreaterThan(10);
  } else {
    expect.soft(box.width, `${what} has a size`).toBeGreaterThan(0);
    expect.soft(box.height, `${what} has a size`).toBeGreaterThan(0);
  }
  expect.soft(box.x, `${what} left`).toBeGreaterThanOrEqual(0);
  expect.soft(box.y, `${what} top`).toBeGreaterThanOrEqual(0);
  expect.soft(box.x + box.width, `${what} right`).toBeLessThanOrEqual(VIEWPORT.width);
  expect.soft(box.y + box.height, `${what} bottom`).toBeLessThanOrEqual(VIEWPORT.height);
}

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

test('the run panel widget and the side panel side by side keep their own looks', async ({ page, tmpPath }) => {
  const notebook = `${tmpPath}/${NOTEBOOK}`;
  await page.contents.uploadFile(SOURCE, notebook);
  await page.notebook.openByPath(notebook);
  await page.notebook.activate(NOTEBOOK);
  const looks = (await (await page.request.get(`/mlpipe/api/plan?path=${encodeURIComponent(notebook)}`)).json()).looks;
  const succeeded = rgb(looks.succeeded.color);

  // `%pipeline run` in the kernel: the run panel widget appears in the notebook
  // (the steps run from the saved notebook, so only %load_ext has to run first)
  await page.notebook.runCell(await cellIndex(page, '%load_ext jupyter_mlpipe'));
  const runCell = await cellIndex(page, '%pipeline run');
  expect(runCell).toBeGreaterThan(0);
  await page.notebook.runCell(runCell);
  const widget = page.locator('.jp-Notebook [data-testid="mlpipe-run-panel"]').first();
  await expect(widget).toHaveAttribute('data-run-status', 'succeeded', { timeout: 180000 });

  // the side panel shows the same run
  await page.evaluate(async () => {
    await (window as any).jupyterapp.commands.execute('mlpipe:show-plan');
  });
  const side = page.locator('#mlpipe-side-panel');
  await expect(side).toBeVisible();
  await side.locator('button[title="Re-read the plan and the runs"]').click();
  const nodes = side.locator('g[data-step]');
  await expect(side.locator('g[data-step][data-status="succeeded"]')).toHaveCount(4, { timeout: 60000 });
  await expect(widget).toBeVisible();
  expect(await nodes.evaluateAll(ns => ns.map(n => n.getAttribute('data-step')))).toEqual(STEPS);

  const background = await side.evaluate(n => getComputedStyle(n).backgroundColor);
  expect.soft(background).not.toBe('rgb(0, 0, 0)');
  expect.soft(background).not.toBe('rgba(0, 0, 0, 0)');

  // each node: a box filled like the panel (not black), outlined and banded in the status's colour,
  // its name and its status in readable text, inside the window
  const boxes = await painted(nodes.locator('rect:first-of-type'));
  const bands = await painted(nodes.locator('rect:nth-of-type(2)'));
  const names = await painted(nodes.locator('text:nth-of-type(2)'));
  const subs = await painted(nodes.locator('text:nth-of-type(3)'));
  expect(boxes).toHaveLength(4);
  for (const [i, step] of STEPS.entries()) {
    const box = boxes[i];
    expect.soft(box.fill, `${step}'s box`).toBe(background);
    expect.soft(box.stroke, `${step}'s outline`).toBe(succeeded);
    expect.soft(bands[i].fill, `${step}'s band`).toBe(succeeded);
    expectInViewport(box.box, `${step}'s box`);
    for (const label of [names[i], subs[i]]) {
      expect.soft(label.fill, `${step}'s label`).not.toBe(box.fill);
      expect.soft(label.fill, `${step}'s label`).not.toBe('none');
      expect.soft(label.visibility).toBe('visible');
      expect.soft(label.box.width).toBeGreaterThan(10);
      expect.soft(label.box.x).toBeGreaterThanOrEqual(box.box.x);
      expect.soft(label.box.x + label.box.width).toBeLessThanOrEqual(box.box.x + box.box.width + 1);
    }
    expect.soft(names[i].text).toBe(step);
    expect.soft(subs[i].text).toContain(looks.succeeded.label);
  }

  // the edges are drawn: a visible stroke along a path of some length, inside the window
  const edges = await painted(side.locator('g[data-from] > path:not(.mlps-edge-hit)')); // the drawn lines
  expect(edges).toHaveLength(4);
  for (const edge of edges) {
    expect.soft(edge.stroke).not.toBe('none');
    expect.soft(edge.stroke).not.toBe(background);
    expect.soft(Number(edge.strokeOpacity)).toBeGreaterThan(0.3);
    expectInViewport(edge.box, 'an edge', true);
  }

  // the step details span the side panel; the button in them stays on one line
  await side.locator('g[data-step="train"]').click();
  const details = side.locator('.mlps-details[data-step="train"]');
  await expect(details).toBeVisible();
  const panelWidth = await side.evaluate(n => n.getBoundingClientRect().width);
  const detailsBox = (await details.boundingBox())!;
  expect.soft(detailsBox.width).toBeGreaterThan(0.8 * panelWidth);
  const open = details.locator('button', { hasText: 'Open executed notebook' });
  await expect(open).toBeVisible();
  const openBox = (await open.boundingBox())!;
  expect.soft(openBox.height).toBeLessThan(36);
  expect.soft(openBox.x + openBox.width, 'the button fits in the details').toBeLessThanOrEqual(detailsBox.x + detailsBox.width);
  expectInViewport(openBox, 'the button in the step details');
  await side.screenshot({ path: path.join(SHOTS, 'side-panel-beside-run-panel.png') });

  // and the widget keeps its own look: its boxes filled like itself, banded in the status's colour
  const widgetBackground = await widget.evaluate(n => getComputedStyle(n).backgroundColor);
  const widgetBoxes = await painted(widget.locator('g[data-step] rect:first-of-type'));
  const widgetBands = await painted(widget.locator('g[data-step] rect:nth-of-type(2)'));
  expect(widgetBoxes).toHaveLength(4);
  for (const [i, box] of widgetBoxes.entries()) {
    expect.soft(box.fill).toBe(widgetBackground);
    expect.soft(box.stroke).toBe(succeeded);
    expect.soft(widgetBands[i].fill).toBe(succeeded);
  }
  await widget.scrollIntoViewIfNeeded();
  expectInViewport((await widget.boundingBox())!, 'the run panel widget');
  await page.screenshot({ path: path.join(SHOTS, 'lab-with-run-panel-and-side-panel.png') });
});
