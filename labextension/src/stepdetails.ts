/**
 * The selected step's details in the side panel: its status, how long it took or which run it is
 * reused from, its error, its metric charts, "Open executed notebook" and, for a failed step,
 * "Debug in kernel". Split from panel.ts; its charts and what the kernel printed are kept here
 * across the panel's re-renders. (A collapsed module's details are moduleview.ts's.)
 */

import { ChartSet, restMetrics, stepChartSpecs } from './chart';
import { badgeStatus } from './badges';
import { errorText } from './format';
import { el, truncate } from './dom';
import { PipelineModel } from './model';
import { formatDuration, stateLook } from './states';

/** What "Debug in kernel" shows while the kernel loads the step's inputs. */
const LOADING = 'loading its inputs into the kernel…';

/** What the details' buttons do (the panel's actions, panel.ts IPanelActions). */
export interface IStepActions {
  /** Open the executed notebook of `step` in run `run` of the pipeline notebook `notebook`. */
  openNotebook(notebook: string, run: string, step: string): void;
  /** `%pipeline debug STEP --run RUN` in the notebook's kernel; resolves to what it printed. */
  debugStep?(name: string, run: string): Promise<string>;
}

export class StepDetails {
  /** `render` draws the panel again (what the kernel printed came). */
  constructor(private _actions: IStepActions, private _render: () => void) {}

  /** A step's details, from the watched run of `model`. */
  draw(name: string, model: PipelineModel): HTMLElement {
    const stepRun = model.stepRun(name);
    const look = stateLook(badgeStatus(model, name));
    const rows: Node[] = [
      el('div', { class: 'mlps-details-title' },
        el('span', { class: `mlps-chip mlps-state-${look.status}` }, `${look.icon} ${look.label}`), ` ${name}`)
    ];
    const duration = formatDuration(stepRun?.duration ?? null);
    if (stepRun?.status === 'reused' && stepRun.from_run) {
      rows.push(el('div', { class: 'mlps-muted' }, `reused from run ${stepRun.from_run} (its outputs, its notebook)`));
    } else if (duration) {
      rows.push(el('div', { class: 'mlps-muted' }, `took ${duration}`));
    }
    if (stepRun?.error) {  // the words the run wrote (cell, error, the user's traceback), not the record's JSON
      rows.push(el('pre', { class: 'mlps-error', 'data-role': 'step-error' }, truncate(errorText(stepRun.error), 4000)));
    }
    const open = el('button', { class: 'jp-mod-styled mlps-open-notebook', type: 'button' }, 'Open executed notebook');
    const run = model.run?.id;
    // the server says where it serves the notebook (null: none on disk); older servers only gave its path
    const hasNotebook = stepRun?.notebook_endpoint !== undefined ? !!stepRun.notebook_endpoint : !!stepRun?.notebook_path;
    if (run && hasNotebook) {
      if (stepRun?.notebook_path) {
        open.title = stepRun.notebook_path;
      }
      open.addEventListener('click', () => this._actions.openNotebook(model.path, run, name));
    } else {
      open.setAttribute('disabled', 'true');
      open.title = 'This step has no executed notebook in the watched run.';
    }
    // a chart per metric the step logged, with the other steps that log it on the same axes
    const order = (model.plan?.steps ?? []).map(s => s.name);
    const specs = stepChartSpecs(restMetrics(model.run?.metrics), order, name);
    if (specs.length) {
      rows.push(el('div', { class: 'mlps-metrics-title' }, 'Metrics'), this._charts.update(specs));
    } else {
      this._charts.update([]);
    }
    rows.push(open);
    if (run && stepRun?.status === 'failed' && this._actions.debugStep) {
      rows.push(this._debugButton(name, run));
    }
    return el('div', { class: 'mlps-details', 'data-step': name }, ...rows);
  }

  /** No step's charts show (a module's details do). */
  clearCharts(): void {
    this._charts.update([]);
  }

  dispose(): void {
    this._charts.dispose();
  }

  /** "Debug in kernel": the failed step's inputs into the kernel (`%pipeline debug`), its output below. */
  private _debugButton(name: string, run: string): HTMLElement {
    const button = el('button', {
      class: 'jp-mod-styled mlps-debug-step', type: 'button',
      title: `Load the values '${name}' received in run ${run} into this notebook's kernel ` +
        `(%pipeline debug ${name} --run ${run}), to fix its cell there`
    }, 'Debug in kernel');
    const said = el('pre', {
      class: 'mlps-debug-output',
      style: 'white-space: pre-wrap; overflow-wrap: anywhere; font-size: var(--jp-code-font-size); margin: 4px 0'
    });
    const key = `${run}/${name}`;
    const shown = this._debugOutput.get(key);
    said.hidden = shown === undefined;
    said.textContent = shown ?? '';
    if (shown === LOADING) {
      button.setAttribute('disabled', 'true');
    }
    button.addEventListener('click', () => {
      // kept by run and step, and drawn again: the panel may re-render while the kernel works
      this._debugOutput.set(key, LOADING);
      this._render();
      void this._actions.debugStep!(name, run)
        .catch((reason: unknown) => `Could not run %pipeline debug: ${reason}`)
        .then(text => {
          this._debugOutput.set(key, text);
          this._render();
        });
    });
    return el('div', { class: 'mlps-debug' }, button, said);
  }

  /** The selected step's metric charts, kept across re-renders. */
  private _charts = new ChartSet();
  /** What `%pipeline debug` printed, by `RUN/STEP`: kept across re-renders. */
  private _debugOutput = new Map<string, string>();
}
