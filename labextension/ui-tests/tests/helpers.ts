/** What the specs share: a notebook put on the server and opened, commands, cells, colours. */
import { galata } from '@jupyterlab/galata';
import { Page } from '@playwright/test';

/** A code cell's source, or its source and tags (`parameters`). */
export type CellSpec = string | { source: string; tags?: string[] };

/** A notebook of code cells, as JSON. */
export function notebookJson(cells: CellSpec[]): string {
  return JSON.stringify({
    cells: cells.map(cell => {
      const { source, tags } = typeof cell === 'string' ? { source: cell, tags: undefined } : cell;
      return { cell_type: 'code', metadata: tags ? { tags } : {}, source, outputs: [], execution_count: null };
    }),
    metadata: {
      kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' },
      language_info: { name: 'python' }
    },
    nbformat: 4,
    nbformat_minor: 5
  });
}

/** Put a notebook of these cells at `path` on the server, open it and make it current. */
export async function openCells(page: Page & any, path: string, cells: CellSpec[]): Promise<void> {
  await page.contents.uploadContent(notebookJson(cells), 'text', path);
  await page.notebook.openByPath(path);
  await page.notebook.activate(path.split('/').pop());
}

/** Run a JupyterLab command, as the palette does. */
export async function execute(page: Page, command: string, args: Record<string, unknown> = {}): Promise<void> {
  await page.evaluate(async ([id, a]: [string, Record<string, unknown>]) => {
    await (window as any).jupyterapp.commands.execute(id, a);
  }, [command, args] as [string, Record<string, unknown>]);
}

/** The index (from 0) of the first cell of the current notebook whose source starts with `prefix`. */
export async function cellIndex(page: Page, prefix: string): Promise<number> {
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

/** The current notebook's active cell (from 0). */
export async function activeCell(page: Page): Promise<number> {
  return page.evaluate(() => (window as any).jupyterapp.shell.currentWidget.content.activeCellIndex);
}

/** `#1a7f37` as a computed style reads it: `rgb(26, 127, 55)`. */
export function rgb(hex: string): string {
  const n = parseInt(hex.slice(1), 16);
  return `rgb(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255})`;
}

/** The page every spec opens: JupyterLab at `viewport`, every cell rendered (no windowing), for `test.use`. */
export function labPage(viewport: { width: number; height: number }): Record<string, unknown> {
  return {
    autoGoto: true,
    viewport,
    mockSettings: {
      ...galata.DEFAULT_SETTINGS,
      '@jupyterlab/notebook-extension:tracker': {
        ...galata.DEFAULT_SETTINGS['@jupyterlab/notebook-extension:tracker'],
        windowingMode: 'none'
      }
    }
  };
}
