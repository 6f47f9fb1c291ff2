/**
 * Paths of the "mlpipe" contents drive, which serves executed step notebooks.
 *
 * The executed notebooks live in the hidden `.mlpipe/runs/RUN/STEP.ipynb`
 * folder next to the pipeline notebook, which the Contents API does not serve.
 * The drive reads them from the REST API instead; its local paths are
 * `<run id>/<step>.ipynb` (so the full path is `mlpipe:<run id>/<step>.ipynb`),
 * and the pipeline notebook a run belongs to is remembered on the side.
 * This module has no JupyterLab imports so that it can be unit tested.
 */

/** The name of the contents drive (full paths are `mlpipe:<run>/<step>.ipynb`). */
export const DRIVE_NAME = 'mlpipe';

/** Run ids: `20261125-023501-3f9a1c` (jupyter_mlpipe.store.history). */
export const RUN_ID_RE = /^[0-9]{8}-[0-9]{6}-[0-9a-f]{6}$/;
/** Step names: letters, digits, '_' and '-', starting with a letter or '_', at most 64 characters. */
export const STEP_NAME_RE = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;

export interface IStepNotebookRef {
  run: string;
  step: string;
}

/** The drive-local path of a step's executed notebook: `<run>/<step>.ipynb`. */
export function encodeLocalPath(run: string, step: string): string {
  if (!RUN_ID_RE.test(run)) {
    throw new Error(`${JSON.stringify(run)} is not a run id.`);
  }
  if (!STEP_NAME_RE.test(step)) {
    throw new Error(`${JSON.stringify(step)} is not a step name.`);
  }
  return `${run}/${step}.ipynb`;
}

/** The full path (with the drive prefix) that a document manager opens. */
export function stepNotebookPath(run: string, step: string): string {
  return `${DRIVE_NAME}:${encodeLocalPath(run, step)}`;
}

/** Whether a (full) path is on the executed step notebooks' drive. */
export function isStepNotebookPath(path: string): boolean {
  return path.startsWith(`${DRIVE_NAME}:`);
}

/** Read a drive-local path (leading/trailing slashes allowed); null when it is not one of ours. */
export function decodeLocalPath(localPath: string): IStepNotebookRef | null {
  const parts = localPath.replace(/^\/+|\/+$/g, '').split('/');
  if (parts.length !== 2 || !parts[1].endsWith('.ipynb')) {
    return null;
  }
  const [run, file] = parts;
  const step = file.slice(0, -'.ipynb'.length);
  if (!RUN_ID_RE.test(run) || !STEP_NAME_RE.test(step)) {
    return null;
  }
  return { run, step };
}

/**
 * The REST endpoint (under `mlpipe/api/`) that serves a step notebook, with the
 * pipeline notebook as `?path=` when it is known (the server then looks in that
 * notebook's run history first; without it, in every history it knows).
 */
export function notebookEndpoint(ref: IStepNotebookRef, notebook?: string | null): string {
  const base = `runs/${encodeURIComponent(ref.run)}/steps/${encodeURIComponent(ref.step)}/notebook`;
  return notebook ? `${base}?path=${encodeURIComponent(notebook)}` : base;
}

/**
 * The URL route of a step notebook in JupyterLab: `lab/tree/mlpipe:RUN/STEP.ipynb`
 * (also under `lab/workspaces/NAME/` and `doc/`), as the kernel's run panel links to it.
 * JupyterLab's own tree route looks for a file browser of the drive and fails, so the
 * extension routes these itself.
 */
export const STEP_NOTEBOOK_ROUTE = /^\/(?:lab|doc)(?:\/workspaces\/[\w-]+)?\/tree\/mlpipe(?::|%3A)/i;

/** The full drive path that a routed URL path names; null when it is not a step notebook's route. */
export function routedStepNotebook(urlPath: string): string | null {
  const match = STEP_NOTEBOOK_ROUTE.exec(urlPath);
  if (!match) {
    return null;
  }
  let local: string;
  try {
    local = decodeURIComponent(urlPath.slice(match[0].length));
  } catch {
    return null;
  }
  const ref = decodeLocalPath(local);
  return ref ? stepNotebookPath(ref.run, ref.step) : null;
}

/**
 * An executed step notebook marked trusted: it is this product's own output (the user's
 * cells, run by the pipeline), so its rich outputs (HTML tables, plots) render as they
 * did in the user's notebook. Jupyter's Contents API marks trust per code cell
 * (`metadata.trusted`); this drive serves the notebook itself, so it says so here.
 */
export function markTrusted<T extends { cells?: any[] }>(notebook: T): T {
  for (const cell of notebook?.cells ?? []) {
    if (cell && cell.cell_type === 'code') {
      cell.metadata = { ...(cell.metadata ?? {}), trusted: true };
    }
  }
  return notebook;
}
