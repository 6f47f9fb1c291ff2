/**
 * Badges on the cells of a notebook: each `%%step` cell shows its step's name,
 * compute target, last state and duration; continuation cells show which step
 * they belong to; `%%scratch` cells look excluded.
 *
 * Name and compute come from the cell text (live, no server needed); states
 * come from the pipeline model (the REST API).
 */

import { Cell } from '@jupyterlab/cells';
import { NotebookPanel } from '@jupyterlab/notebook';
import { IDisposable } from '@lumino/disposable';

import { reusedLabel, shortRunId } from './format';
import { PipelineModel } from './model';
import { classifyCells, ICellRole } from './stepline';
import { moduleLabel, moduleMembers, moduleStatus, runStepStatus } from './modules';
import { DisplayStatus, formatDuration, stateLook } from './states';

const BADGE_CLASS = 'mlp-badge';
const ROLE_CLASSES = ['mlp-cell-step', 'mlp-cell-continuation', 'mlp-cell-scratch'];

/** The plan error of the notebook placed on a cell: its index (from 0), its words; null when there is none. */
export function planProblem(model: PipelineModel, roles: readonly ICellRole[]): { cell: number; text: string } | null {
  const error = model.planError;
  if (!error || error.status !== 400) {
    return null; // 0: the server is unreachable, which is no cell's fault
  }
  let cell = typeof error.data.cell === 'number' ? error.data.cell : -1;
  if (cell < 0 && typeof error.data.step === 'string') {
    cell = roles.findIndex(r => r.kind === 'step' && r.step === error.data.step);
  }
  if (cell < 0) {
    return null;
  }
  return { cell, text: error.hint ? `${error.message}\n${error.hint}` : error.message };
}

/**
 * Whether a step's code changed since the watched run ran it (comments and spacing aside: reuse's
 * view, from the saved notebook); the run's id when it did, else null.
 */
export function editedSince(model: PipelineModel, step: string): string | null {
  const now = model.plan?.steps.find(s => s.name === step)?.code_digest;
  const ran = model.stepRun(step)?.code_digest;
  return now && ran && now !== ran ? model.run?.id ?? null : null;
}

/** The status a badge shows for a step, given the watched run. */
export function badgeStatus(model: PipelineModel, step: string): DisplayStatus {
  return runStepStatus(model.run, step);
}

/**
 * The status a `%%step` cell's badge shows: its step's, or for a module step (whose steps all
 * carry its cell) its members' aggregate, as the module's collapsed node shows it.
 */
export function cellStatus(model: PipelineModel, step: string): DisplayStatus {
  return moduleStatus(model.plan, model.run, step);
}

function firstLine(text: string): string {
  return text.split('\n', 1)[0];
}

function editedTitle(run: string): string {
  return `The code of this step changed since run ${shortRunId(run)} ran it: the next run runs it again.`;
}

function element(tag: string, className: string, text?: string): HTMLElement {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

/** Keeps the badges of one notebook panel up to date. */
export class CellBadges implements IDisposable {
  constructor(
    readonly panel: NotebookPanel,
    private _model: PipelineModel
  ) {
    panel.content.modelContentChanged.connect(this._schedule, this);
    _model.changed.connect(this._schedule, this);
    this._schedule();
  }

  get model(): PipelineModel {
    return this._model;
  }
  set model(value: PipelineModel) {
    this._model.changed.disconnect(this._schedule, this);
    this._model = value;
    value.changed.connect(this._schedule, this);
    this._schedule();
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  /** The role of every cell, from the cells' current text. */
  roles(): ICellRole[] {
    const cells = this.panel.content.model?.cells;
    if (!cells) {
      return [];
    }
    const infos = [];
    for (let i = 0; i < cells.length; i++) {
      const cell = cells.get(i);
      const tags = cell.getMetadata('tags');
      infos.push({
        source: cell.sharedModel.getSource(),
        cellType: cell.type,
        tags: Array.isArray(tags) ? (tags as string[]) : []
      });
    }
    return classifyCells(infos);
  }

  /** Redraw every badge now. */
  update(): void {
    if (this._disposed) {
      return;
    }
    const roles = this.roles();
    const problem = planProblem(this._model, roles);
    this.panel.content.widgets.forEach((cell, i) =>
      this._render(cell, roles[i], problem && problem.cell === i ? problem.text : null)
    );
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    if (this._timer !== null) {
      window.clearTimeout(this._timer);
    }
    this.panel.content.modelContentChanged.disconnect(this._schedule, this);
    this._model.changed.disconnect(this._schedule, this);
    for (const cell of this.panel.content.widgets) {
      cell.node.querySelector(`:scope > .${BADGE_CLASS}`)?.remove();
      cell.node.classList.remove(...ROLE_CLASSES);
    }
  }

  private _schedule(): void {
    if (this._timer === null && !this._disposed) {
      this._timer = window.setTimeout(() => {
        this._timer = null;
        this.update();
      }, 100);
    }
  }

  private _render(cell: Cell, role: ICellRole | undefined, problem: string | null): void {
    let badge = cell.node.querySelector<HTMLElement>(`:scope > .${BADGE_CLASS}`);
    const kind = role?.kind;
    cell.node.classList.toggle('mlp-cell-step', kind === 'step');
    cell.node.classList.toggle('mlp-cell-continuation', kind === 'continuation');
    cell.node.classList.toggle('mlp-cell-scratch', kind === 'scratch');
    cell.node.classList.toggle('mlp-cell-problem', problem !== null);
    if (problem === null && (!role || (kind !== 'step' && kind !== 'continuation' && kind !== 'scratch'))) {
      badge?.remove();
      delete cell.node.dataset.mlpStep;
      return;
    }
    if (!badge) {
      badge = element('div', BADGE_CLASS);
    }
    if (badge.parentElement !== cell.node || cell.node.firstElementChild !== badge) {
      cell.node.insertBefore(badge, cell.node.firstChild);
    }
    const content: HTMLElement[] = [];
    let key: string;
    if (kind === 'step' && role) {
      const step = role.step ?? '';
      const line = role.line;
      // a module step: ONE badge for all its steps (they all carry this cell), their aggregate status
      const plannedModule = this._model.plan?.modules?.[step];
      const members = moduleMembers(this._model.plan, step);
      const status = cellStatus(this._model, step);
      const look = stateLook(status);
      const stepRun = members ? undefined : this._model.stepRun(step);
      const duration = status === 'reused' ? '' : formatDuration(stepRun?.duration ?? null);
      const label = status === 'reused' ? reusedLabel(look.label, stepRun?.from_run) : look.label;
      const gpus = line?.gpus ? ` ×${line.gpus}` : '';
      const where = plannedModule ? moduleLabel(plannedModule) : `${line?.compute ?? 'cpu'}${gpus}`;
      const edited = members ? null : editedSince(this._model, step);
      // a bad %%step line or a plan error on this cell: the badge turns red, the message on hover
      const bad = line?.error ? `%%step line: ${line.error}` : problem;
      key = ['step', step, where, status, label, duration, bad, edited].join('|');
      badge.className = `${BADGE_CLASS} mlp-badge-step mlp-state-${status}${bad ? ' mlp-badge-bad' : ''}`;
      badge.dataset.mlpStep = step;
      badge.dataset.mlpStatus = status;
      const about = members
        ? `module step ${step} (${where}, ${members.length - 1} step${members.length === 2 ? '' : 's'}): ${label}`
        : `step ${step} (${where}): ${label}${duration ? ', ' + duration : ''}`;
      badge.title = [bad, about, edited ? editedTitle(edited) : ''].filter(Boolean).join('\n');
      content.push(
        element('span', 'mlp-badge-icon', bad ? '✗' : look.icon),
        element('span', 'mlp-badge-name', step || '(no name)'),
        element('span', 'mlp-badge-compute', members ? `module ${where}` : where),
        element('span', 'mlp-badge-state', label)
      );
      if (duration) {
        content.push(element('span', 'mlp-badge-duration', duration));
      }
      if (edited) {
        content.push(element('span', 'mlp-badge-edited', '✎ edited since the last run'));
      }
      if (bad) {
        content.push(element('span', 'mlp-badge-error', firstLine(bad)));
      }
      cell.node.dataset.mlpStep = step;
    } else if (kind === 'continuation' && role) {
      key = ['cont', role.step, problem].join('|');
      badge.className = `${BADGE_CLASS} mlp-badge-continuation${problem ? ' mlp-badge-bad' : ''}`;
      badge.dataset.mlpStep = role.step ?? '';
      delete badge.dataset.mlpStatus;
      badge.title = [problem, `This cell belongs to step ${role.step}`].filter(Boolean).join('\n');
      content.push(element('span', 'mlp-badge-name', `↳ step ${role.step}`));
      if (problem) {
        content.push(element('span', 'mlp-badge-error', firstLine(problem)));
      }
      cell.node.dataset.mlpStep = role.step ?? '';
    } else if (problem !== null && kind !== 'scratch') {
      // a plan error on a cell that is in no step (the preamble, the parameters cell)
      key = ['problem', problem].join('|');
      badge.className = `${BADGE_CLASS} mlp-badge-problem mlp-badge-bad`;
      delete badge.dataset.mlpStep;
      delete badge.dataset.mlpStatus;
      badge.title = problem;
      content.push(element('span', 'mlp-badge-icon', '✗'), element('span', 'mlp-badge-error', firstLine(problem)));
      delete cell.node.dataset.mlpStep;
    } else {
      key = 'scratch';
      badge.className = `${BADGE_CLASS} mlp-badge-scratch`;
      delete badge.dataset.mlpStep;
      delete badge.dataset.mlpStatus;
      badge.title = 'A scratch cell: not part of the pipeline';
      content.push(element('span', 'mlp-badge-name', '✎ scratch · not in the pipeline'));
      delete cell.node.dataset.mlpStep;
    }
    if (badge.dataset.mlpKey !== key) {
      badge.dataset.mlpKey = key;
      badge.replaceChildren(...content);
    }
  }

  private _timer: number | null = null;
  private _disposed = false;
}
