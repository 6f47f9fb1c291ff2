/**
 * Words for what the REST API sends as data: a step's error, a run id, a
 * reused step's origin. Pure functions, shared by the side panel, the badges
 * and the notifications (and tested without a browser).
 */

import type { IRunDetail } from './api';
import { countsText, isActive } from './states';

/** A step's error as `GET runs/{id}` sends it (`server/records.py`); `cell` counts from 0. */
export interface IStepError {
  message?: string | null;
  ename?: string | null;
  evalue?: string | null;
  traceback?: string | null;
  cell?: number | null;
}

/** The short form of a run id that people read and type (its last six characters, as `mlpipe runs`). */
export function shortRunId(id: string | null | undefined): string {
  return id ? String(id).slice(-6) : '';
}

/** `reused from 3f9a1c`: the run that computed a reused step's outputs (as the run panel says it). */
export function reusedLabel(label: string, fromRun: string | null | undefined): string {
  return fromRun ? `reused from ${shortRunId(fromRun)}` : label;
}

/** A cell as people count it: from 1, as JupyterLab does (the data counts from 0). */
export function cellNumber(index: number): number {
  return index + 1;
}

/** The one-line head of a step's error: `ZeroDivisionError: division by zero (cell 5)`. */
export function errorHeadline(error: IStepError | string | null | undefined): string {
  if (!error) {
    return '';
  }
  if (typeof error === 'string') {
    return error.split('\n', 1)[0];
  }
  const where = typeof error.cell === 'number' ? ` (cell ${cellNumber(error.cell)})` : '';
  if (error.ename) {
    return `${error.ename}: ${error.evalue ?? ''}${where}`.trim();
  }
  return (error.message ?? error.evalue ?? '').split('\n', 1)[0] + where;
}

/**
 * A step's error as text a person reads: the message the run wrote (which names the
 * cell and the error), then the user's traceback, never the record's JSON.
 */
export function errorText(error: IStepError | string | null | undefined): string {
  if (!error) {
    return '';
  }
  if (typeof error === 'string') {
    return error;
  }
  const parts: string[] = [];
  const message = (error.message ?? '').trim();
  const headline = errorHeadline({ ...error, message: null });
  parts.push(message || headline);
  const traceback = (error.traceback ?? '').trim();
  if (traceback && !message.includes(traceback)) {
    parts.push(traceback);
  }
  return parts.filter(Boolean).join('\n\n');
}

/** What a finished run's notification says, and the step it links to (null: none). */
export interface IRunNotice {
  kind: 'success' | 'error' | 'warning';
  message: string;
  step: string | null;
}

/** JupyterLab shows at most this many characters of a notification's message. */
const MAX_MESSAGE = 140;

function short(text: string): string {
  return text.length <= MAX_MESSAGE ? text : text.slice(0, MAX_MESSAGE - 1) + '…';
}

/** The notice for a run that ended (null while it is still going). */
export function runNotice(run: IRunDetail): IRunNotice | null {
  if (isActive(run.status)) {
    return null;
  }
  const id = shortRunId(run.id);
  const counts: Record<string, number> = {};
  for (const step of Object.values(run.steps ?? {})) {
    counts[step.status] = (counts[step.status] ?? 0) + 1;
  }
  const failed = Object.entries(run.steps ?? {}).find(([, s]) => s.status === 'failed');
  if (failed) {
    const [name, step] = failed;
    const head = errorHeadline(step.error) || 'see its details';
    return { kind: 'error', step: name, message: short(`Pipeline run ${id} failed in step '${name}': ${head}`) };
  }
  if (run.status === 'succeeded') {
    return { kind: 'success', step: null, message: short(`Pipeline run ${id} succeeded: ${countsText(counts)}`) };
  }
  const why = run.error ? `: ${run.error.split('\n', 1)[0]}` : '';
  return { kind: run.status === 'cancelled' ? 'warning' : 'error', step: null, message: short(`Pipeline run ${id} ${run.status}${why}`) };
}

/** `12.3 kB`: a stored value's size. */
export function formatSize(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) {
    return '';
  }
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}
