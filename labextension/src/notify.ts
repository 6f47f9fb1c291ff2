/**
 * A run started from JupyterLab (the palette, the side panel, `Accel Alt Enter`) runs
 * on the server, out of sight: when it ends, a notification says how, and a failure
 * links to the failing step (its cell, and the side panel's details).
 */

import { Notification } from '@jupyterlab/apputils';

import * as api from './api';
import { runNotice } from './format';
import { isActive } from './states';

/** How often an unwatched run is asked about while it goes. */
const POLL_MS = 1000;

export interface INoticeActions {
  /** Scroll to the step's first cell and show its details in the side panel. */
  selectStep(name: string): void;
  /** Put the run's results into the notebook's kernel; resolves to what the kernel printed. */
  loadRun?(run: string): Promise<string>;
}

/** Wait for run `id` of notebook `path` to end, then say how it ended. */
export async function notifyWhenDone(path: string, id: string, actions: INoticeActions): Promise<void> {
  let run: api.IRunDetail | null = null;
  for (;;) {
    try {
      run = await api.getRun(path, id);
    } catch {
      run = null; // not recorded yet, or the server restarts: ask again
    }
    if (run && !isActive(run.status)) {
      break;
    }
    await new Promise(resolve => window.setTimeout(resolve, POLL_MS));
  }
  const notice = runNotice(run)!;
  const buttons: Notification.IAction[] = [];
  if (notice.step) {
    const step = notice.step;
    buttons.push({ label: `Go to step ${step}`, caption: `Select the first cell of step ${step}`, callback: () => actions.selectStep(step) });
  }
  if (run.status === 'succeeded' && actions.loadRun) {
    const load = actions.loadRun;
    buttons.push({
      label: 'Load into kernel',
      caption: `Put the results of run ${run.id} into this notebook's kernel (%pipeline load)`,
      callback: () => {
        void load(id).then(text => Notification.info(text || 'Nothing was loaded.', { autoClose: 8000 }));
      }
    });
  }
  const options = { autoClose: notice.kind === 'success' ? 6000 : (false as const), actions: buttons };
  if (notice.kind === 'error') {
    Notification.error(notice.message, options);
  } else if (notice.kind === 'warning') {
    Notification.warning(notice.message, options);
  } else {
    Notification.success(notice.message, options);
  }
}
