/**
 * The side panel's runs: the watched run's line (its status and step counts, Cancel or "Load into
 * kernel" and what they answered) and the list of recent runs, one to watch by a click. Split from
 * panel.ts; what a run's buttons answered is kept here across the panel's re-renders.
 */

import { IRunDetail, IRunSummary } from './api';
import { el, onActivate } from './dom';
import { shortRunId } from './format';
import { PipelineModel } from './model';
import { countsText, formatDuration, isActive, stateLook } from './states';

/** What the run line's buttons do beyond the model (the panel's actions, panel.ts IPanelActions). */
export interface IRunActions {
  /** `%pipeline load RUN` in the notebook's kernel; resolves to what it printed. */
  loadRun?(run: string): Promise<string>;
}

function when(value: number | string | null | undefined): string {
  if (value === null || value === undefined || value === '') {
    return '';
  }
  const date = typeof value === 'number' ? new Date(value * 1000) : new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleTimeString();
}

/** The watched run's line under the panel's header. */
export class RunLine {
  /** `render` draws the panel again (a button answered). */
  constructor(private _actions: IRunActions, private _render: () => void) {}

  draw(run: IRunDetail, model: PipelineModel): HTMLElement {
    const look = stateLook(run.status);
    const counts: Record<string, number> = {};
    for (const step of Object.values(run.steps ?? {})) {
      counts[step.status] = (counts[step.status] ?? 0) + 1;
    }
    const line = el('div', { class: `mlps-runline mlps-state-${look.status}`, 'data-mlp-run': run.id, 'data-mlp-status': run.status },
      el('span', { class: 'mlps-chip' }, `${look.icon} ${look.label}`),
      ` run ${run.id} `,
      el('span', { class: 'mlps-muted' }, countsText(counts)));
    if (run.connecting && isActive(run.status)) {  // "starting Ray (first run in this session)…", as the run panel
      line.appendChild(el('div', { class: 'mlps-muted mlps-connecting', 'data-role': 'connecting' }, run.connecting));
    }
    line.appendChild(this._runActions(run.id, isActive(run.status), model));
    const said = this._said.get(run.id);
    if (said) {
      line.appendChild(el('pre', { class: 'mlps-said', 'data-role': 'run-output' }, said));
    }
    return line;
  }

  /** Cancel (a run going), or load its results into the kernel (a finished one). */
  private _runActions(run: string, active: boolean, model: PipelineModel): HTMLElement {
    const box = el('span', { class: 'mlps-run-actions' });
    if (active) {
      const cancel = el('button', {
        class: 'jp-mod-styled jp-mod-warn mlps-cancel', type: 'button', title: `Cancel run ${run}: its running steps stop`
      }, '■ Cancel');
      cancel.addEventListener('click', () => {
        cancel.setAttribute('disabled', 'true');
        void model.cancel().catch((reason: unknown) => {
          const error = reason as { message?: string; hint?: string | null };
          this._said.set(run, [error.message ?? String(reason), error.hint ?? ''].filter(Boolean).join('\n'));
          this._render();
        });
      });
      box.appendChild(cancel);
    } else if (this._actions.loadRun) {
      const load = el('button', {
        class: 'jp-mod-styled mlps-load-run', type: 'button',
        title: `Put the results of run ${run} into this notebook's kernel (%pipeline load ${shortRunId(run)})`
      }, 'Load into kernel');
      load.addEventListener('click', () => {
        this._said.set(run, 'loading its results into the kernel…');
        this._render();
        void this._actions.loadRun!(run)
          .catch((reason: unknown) => `Could not run %pipeline load: ${reason}`)
          .then(text => {
            this._said.set(run, text);
            this._render();
          });
      });
      box.appendChild(load);
    }
    return box;
  }

  /** What a run's buttons answered (a refused cancel, what `%pipeline load` printed), by run id. */
  private _said = new Map<string, string>();
}

/** The recent runs (20 at most): a click watches one. */
export function runsList(runs: IRunSummary[], model: PipelineModel): HTMLElement {
  const box = el('div', { class: 'mlps-runs' }, el('h3', {}, 'Recent runs'));
  if (!runs.length) {
    box.appendChild(el('div', { class: 'mlps-empty' }, 'No runs yet.'));
    return box;
  }
  const list = el('ul', { class: 'mlps-runs-list' });
  for (const run of runs.slice(0, 20)) {
    const look = stateLook(run.status);
    const item = el('li', {
      class: `mlps-run-item mlps-state-${look.status}${model.run?.id === run.id ? ' mlps-selected' : ''}`,
      tabindex: '0', role: 'button', 'data-run': run.id, title: `show run ${run.id}`
    },
    el('span', { class: 'mlps-chip' }, `${look.icon} ${look.label}`),
    el('span', { class: 'mlps-run-id' }, run.id),
    el('span', { class: 'mlps-muted' }, [when(run.started), formatDuration(run.duration ?? null)].filter(Boolean).join(' · ')),
    el('span', { class: 'mlps-muted mlps-run-counts' }, countsText(run.step_counts)));
    if (run.pipeline) {  // a published pipeline's run: which one, which version, what triggered it
      item.appendChild(el('span', { class: 'mlps-muted mlps-run-published' },
        `${run.pipeline} v${run.pipeline_version ?? '?'} (${run.trigger?.kind ?? '?'})`));
    }
    onActivate(item, () => void model.watch(run.id));
    list.appendChild(item);
  }
  box.appendChild(list);
  return box;
}
