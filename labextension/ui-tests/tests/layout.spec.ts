/**
 * The graph fits (#18 items 5 and 6, and the fan-out node of #16), as a person sees it at
 * 1280x800 with the file browser open and the run panel widget and the side panel on the
 * page together: the widget is no wider than the notebook, its text is never under 11 px
 * (font size × zoom), the last step of a wide pipeline is in view or reachable by dragging
 * the graph, an edge with many variables reads "4 values" (the names on hover), the step
 * details are a drawer that does not cover the selected step, their tables wrap, and a
 * fan-out step is one node with its elements' progress.
 */
import { expect, test } from '@jupyterlab/galata';
import { Locator, Page } from '@playwright/test';
import * as path from 'path';

import { cellIndex, execute, labPage, openCells, rgb } from './helpers';

const SHOTS = path.resolve(__dirname, '..', 'test-results');
const FAN_OUT = path.resolve(__dirname, '..', '..', '..', 'notebooks', 'fan_out.ipynb');
const VIEWPORT = { width: 1280, height: 800 };

test.use(labPage(VIEWPORT));

interface IBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

const box = async (locator: Locator): Promise<IBox> => (await locator.boundingBox())!;

function inside(inner: IBox, outer: IBox, slack = 1): boolean {
  return inner.x >= outer.x - slack && inner.y >= outer.y - slack &&
    inner.x + inner.width <= outer.x + outer.width + slack && inner.y + inner.height <= outer.y + outer.height + slack;
}

function overlap(a: IBox, b: IBox): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

/** The on-screen size of every text of a graph: its computed font size × the SVG's zoom. */
async function screenFontSizes(graph: Locator): Promise<number[]> {
  return graph.locator('svg').first().evaluate((svg: SVGSVGElement) => {
    const zoom = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
    return Array.from(svg.querySelectorAll('text'))
      .filter(t => (t.textContent ?? '').trim() !== '' && getComputedStyle(t).display !== 'none')
      .map(t => parseFloat(getComputedStyle(t).fontSize) * zoom);
  });
}

/** The part of the viewport `view` shows (its client area, on screen), within the window. */
async function visibleRect(view: Locator): Promise<IBox> {
  return view.evaluate((n: HTMLElement) => {
    const r = n.getBoundingClientRect();
    const x0 = Math.max(r.x + n.clientLeft, 0);
    const y0 = Math.max(r.y + n.clientTop, 0);
    const x1 = Math.min(r.x + n.clientLeft + n.clientWidth, window.innerWidth);
    const y1 = Math.min(r.y + n.clientTop + n.clientHeight, window.innerHeight);
    return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
  });
}

/** Drag the graph in `view` (as a person pans it) until `node` is inside the view, or give up. */
async function panTo(page: Page, view: Locator, node: Locator): Promise<void> {
  for (let i = 0; i < 6; i++) {
    const [seen, target] = [await visibleRect(view), await box(node)];
    if (inside(target, seen)) {
      return;
    }
    const cx = seen.x + seen.width / 2;
    const cy = seen.y + seen.height / 2;
    const clamp = (v: number, room: number): number => Math.max(-room / 2 + 10, Math.min(room / 2 - 10, v));
    const dx = clamp(cx - (target.x + target.width / 2), seen.width);
    const dy = clamp(cy - (target.y + target.height / 2), seen.height);
    await page.mouse.move(cx, cy);
    await page.mouse.down();
    await page.mouse.move(cx + dx / 2, cy + dy / 2, { steps: 4 });
    await page.mouse.move(cx + dx, cy + dy, { steps: 4 });
    await page.mouse.up();
  }
}

test('a wide pipeline fits: text stays readable, the last step is reached by panning, the drawer leaves it visible', async ({ page, tmpPath }) => {
  await execute(page, 'filebrowser:activate');
  const notebook = `${tmpPath}/fan_out.ipynb`;
  await page.contents.uploadFile(FAN_OUT, notebook);
  await page.notebook.openByPath(notebook);
  await page.notebook.activate('fan_out.ipynb');
  // the widget: `%pipeline show` draws the plan (nothing runs)
  await page.notebook.runCell(await cellIndex(page, '%load_ext jupyter_mlpipe'));
  const at = await cellIndex(page, '%pipeline plan');
  await page.notebook.setCell(at, 'code', '%pipeline show');
  await page.notebook.runCell(at);
  // and the side panel, both on the page with the file browser open
  await execute(page, 'mlpipe:show-plan');
  const side = page.locator('#mlpipe-side-panel');
  await expect(side).toBeVisible();
  await expect(page.locator('.jp-FileBrowser')).toBeVisible();
  const widget = page.locator('.jp-Notebook [data-testid="mlpipe-run-panel"]').first();
  await expect(widget.locator('g[data-step]')).toHaveCount(6, { timeout: 60000 });
  await expect(side.locator('g[data-step]')).toHaveCount(6, { timeout: 60000 });
  await widget.scrollIntoViewIfNeeded();

  // ---- the run panel widget: no wider than the notebook, no text under 11 px
  const notebookBox = await box(page.locator('.jp-NotebookPanel:visible .jp-WindowedPanel-outer, .jp-NotebookPanel:visible .jp-Notebook').first());
  const widgetBox = await box(widget);
  expect.soft(widgetBox.x + widgetBox.width, 'the widget ends inside the notebook').toBeLessThanOrEqual(notebookBox.x + notebookBox.width + 1);
  expect.soft(widgetBox.x + widgetBox.width, 'the widget ends inside the window').toBeLessThanOrEqual(VIEWPORT.width);
  const graph = widget.locator('[data-testid="mlpipe-graph"]');
  console.log(`widget ${JSON.stringify(widgetBox)}, notebook ${JSON.stringify(notebookBox)}, direction ${await graph.locator('svg').getAttribute('data-direction')}, zoom ${await graph.getAttribute('data-zoom')}`);
  for (const size of await screenFontSizes(graph)) {
    expect.soft(size, 'text on screen, in px').toBeGreaterThanOrEqual(11 - 0.01);
  }
  // the edge from `data` to each model carries four variables: "4 values", the names on hover
  const label = graph.locator('text', { hasText: '4 values' }).first();
  await expect(label).toBeVisible();
  for (const variable of ['X_train', 'y_train', 'X_test', 'y_test']) {
    await expect(label.locator('title')).toContainText(variable);
  }

  // zooming out stops where text would get smaller than 11 px
  const zoomOut = widget.locator('button[data-role="zoom-out"]');
  for (let i = 0; i < 8 && (await zoomOut.isEnabled()); i++) {
    await zoomOut.click();
  }
  await expect(zoomOut).toBeDisabled();
  for (const size of await screenFontSizes(graph)) {
    expect.soft(size, 'text on screen at the smallest zoom').toBeGreaterThanOrEqual(11 - 0.01);
  }
  await widget.locator('button[data-role="zoom-in"]').click();
  expect(Number(await graph.getAttribute('data-zoom'))).toBeGreaterThan(11 / 12 + 0.01);
  await widget.locator('button[data-role="fit"]').click();

  // the last step: in view, or brought into view by dragging the graph
  const last = graph.locator('g[data-step="compare"]');
  await panTo(page, graph, last);
  expect(inside(await box(last), await visibleRect(graph)), 'compare is in the graph\'s view').toBe(true);
  expect(inside(await box(last), { x: 0, y: 0, ...VIEWPORT }), 'compare is in the window').toBe(true);
  await page.screenshot({ path: path.join(SHOTS, 'layout-wide-pipeline.png') });

  // clicked: highlighted, the details open as a drawer that does not cover it
  await last.click();
  await expect(last).toHaveClass(/mlpw-selected/);
  const drawer = widget.locator('[data-testid="mlpipe-step-details"]');
  await expect(drawer).toHaveAttribute('data-step', 'compare');
  await expect(drawer).toBeVisible();
  const [nodeBox, drawerBox] = [await box(last), await box(drawer)];
  expect(overlap(nodeBox, drawerBox), 'the drawer does not cover the step').toBe(false);
  expect(inside(nodeBox, await visibleRect(graph)), 'the step stays in the graph\'s view').toBe(true);
  expect(inside(drawerBox, await box(widget)), 'the drawer is inside the widget').toBe(true);
  await widget.screenshot({ path: path.join(SHOTS, 'layout-widget-drawer.png') });

  // ---- the side panel: top to bottom, the same rules
  const sideGraph = side.locator('.mlps-graph');
  for (const size of await screenFontSizes(sideGraph)) {
    expect.soft(size, 'side panel text on screen, in px').toBeGreaterThanOrEqual(11 - 0.01);
  }
  const sideLast = sideGraph.locator('g[data-step="compare"]');
  await panTo(page, sideGraph, sideLast);
  expect(inside(await box(sideLast), await visibleRect(sideGraph)), 'compare is in the side panel\'s view').toBe(true);
  await sideLast.click();
  await expect(sideLast).toHaveClass(/mlps-selected/);
  const sideDetails = side.locator('.mlps-details[data-step="compare"]');
  await expect(sideDetails).toBeVisible();
  expect(overlap(await box(sideLast), await box(sideDetails)), 'the side panel\'s details do not cover the step').toBe(false);
  expect(inside(await box(sideLast), await visibleRect(sideGraph)), 'the step stays in the side panel\'s view').toBe(true);
  const sideOut = side.locator('button[data-role="zoom-out"]');
  for (let i = 0; i < 8 && (await sideOut.isEnabled()); i++) {
    await sideOut.click();
  }
  for (const size of await screenFontSizes(sideGraph)) {
    expect.soft(size, 'side panel text at the smallest zoom').toBeGreaterThanOrEqual(11 - 0.01);
  }
  await side.screenshot({ path: path.join(SHOTS, 'layout-side-panel.png') });
});

test('a fan-out step is one node with its elements\' progress; its failures table wraps', async ({ page, tmpPath }) => {
  await execute(page, 'filebrowser:activate');
  const name = 'fanout_node.ipynb';
  const long = 'this element is refused on purpose, with a message long enough to need several lines in the drawer: ' +
    'a table cell wraps it instead of clipping it or making the drawer scroll sideways, whatever the width of the notebook';
  await openCells(page, `${tmpPath}/${name}`, [
    '%load_ext jupyter_mlpipe',
    '%%step items\nitems = list(range(6))',
    `%%step square --foreach items --as item --error-threshold 1\nif item == 4:\n    raise ValueError(${JSON.stringify(long)})\nsq = item * item`,
    '%pipeline run'
  ]);
  await page.notebook.save();
  await page.notebook.runCell(0);
  await page.notebook.runCell(3);
  const widget = page.locator('.jp-Notebook [data-testid="mlpipe-run-panel"]').first();
  await expect(widget).toHaveAttribute('data-run-status', /succeeded|failed/, { timeout: 180000 });
  const looks = (await (await page.request.get(`/mlpipe/api/plan?path=${encodeURIComponent(`${tmpPath}/${name}`)}`)).json()).looks;

  const node = widget.locator('g[data-step="square"]');
  await expect(node).toHaveCount(1);  // one node for the six elements
  const bar = node.locator('[data-role="fanout-progress"]');
  await expect(bar).toHaveAttribute('data-total', '6');
  await expect(bar).toHaveAttribute('data-done', '5');
  await expect(bar).toHaveAttribute('data-failed', '1');
  const done = bar.locator('rect[data-kind="succeeded"]');
  const failed = bar.locator('rect[data-kind="failed"]');
  expect(await done.evaluate(n => getComputedStyle(n).fill)).toBe(rgb(looks.succeeded.color));
  expect(await failed.evaluate(n => getComputedStyle(n).fill)).toBe(rgb(looks.failed.color));
  const [doneBox, failedBox] = [await box(done), await box(failed)];
  expect(doneBox.width / failedBox.width).toBeCloseTo(5, 0);
  const count = node.locator('[data-role="fanout-count"]');
  await expect(count).toHaveText('5/6');
  expect(await count.evaluate(n => getComputedStyle(n).fill)).toBe(rgb(looks.failed.color));
  await expect(node.locator('title').first()).toContainText('6 elements: 5 done, 1 failed');
  expect(inside(await box(count), await box(node.locator('rect.mlpw-box')))).toBe(true);

  // its details: the failed element's error in a table whose cells wrap inside the drawer
  await node.click();
  const drawer = widget.locator('[data-testid="mlpipe-step-details"]');
  await expect(drawer.locator('[data-role="fanout"]')).toContainText('6 elements: 5 done, 1 failed');
  const cell = drawer.locator('td', { hasText: 'refused on purpose' });
  await expect(cell).toBeVisible();
  const drawerBox = await box(drawer);
  const cellBox = await box(cell);
  const lineHeight = await cell.evaluate(n => parseFloat(getComputedStyle(n).lineHeight) || parseFloat(getComputedStyle(n).fontSize) * 1.2);
  expect(cellBox.height, 'the long error wraps onto several lines').toBeGreaterThan(1.8 * lineHeight);
  expect(cellBox.x + cellBox.width, 'the cell ends inside the drawer').toBeLessThanOrEqual(drawerBox.x + drawerBox.width + 1);
  expect(await cell.evaluate(n => n.scrollWidth <= n.clientWidth + 1), 'nothing clipped in the cell').toBe(true);
  expect(await drawer.evaluate(n => n.scrollWidth <= n.clientWidth + 1), 'the drawer does not scroll sideways').toBe(true);
  expect(overlap(await box(node), drawerBox)).toBe(false);
  await widget.screenshot({ path: path.join(SHOTS, 'layout-fanout-node.png') });
});
