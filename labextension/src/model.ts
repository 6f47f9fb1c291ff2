/**
 * What the front end knows about one notebook's pipeline: its plan, its runs
 * and the run being watched. Badges and the side panel both read it, so they
 * always show the same states for the same run.
 */

import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import * as api from './api';
import { ExpandSet } from './modules';
import { isActive, setLooks } from './states';

const POLL_MS = 1000;
/** How often to look for runs started elsewhere (`%pipeline run` in the kernel, `mlpipe run`). */
const DISCOVER_MS = 3000;

export class PipelineModel implements IDisposable {
  constructor(path: string) {
    this._path = path;
    this._discover = window.setInterval(() => void this._discoverRuns(), DISCOVER_MS);
  }

  get path(): string {
    return this._path;
  }
  set path(value: string) {
    if (value !== this._path) {
      this._path = value;
      void this.refresh();
    }
  }

  /** Emitted whenever the plan, the runs or the watched run change. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get plan(): api.IPlan | null {
    return this._plan;
  }
  /** The plan error (a 400 from the server), or why the server could not be reached. */
  get planError(): api.MlpipeApiError | null {
    return this._planError;
  }
  get runs(): api.IRunSummary[] {
    return this._runs;
  }
  /** The watched run: the newest one, or the one this front end started. */
  get run(): api.IRunDetail | null {
    return this._run;
  }
  get isDisposed(): boolean {
    return this._disposed;
  }

  /** The state of a step in the watched run (undefined if it is not in it). */
  stepRun(name: string): api.IStepRun | undefined {
    return this._run?.steps?.[name];
  }

  /** Fetch the plan, the runs and the newest run. */
  async refresh(): Promise<void> {
    await Promise.all([this.refreshPlan(), this.refreshRuns(true)]);
  }

  /** The module steps drawn open in this notebook's graph (sorted); the others are one node each. */
  get expanded(): string[] {
    return this._expanded.names();
  }

  isExpanded(name: string): boolean {
    return this._expanded.has(name);
  }

  /** Open or close a module step's node (toggle without `open`): the plan is laid out again. */
  async setExpanded(name: string, open?: boolean): Promise<void> {
    if (this._expanded.set(name, open)) {
      await this.refreshPlan();
    }
  }

  /** Open the modules `step` is hidden in (it is drawn as its own node then). */
  async reveal(step: string): Promise<void> {
    if (this._expanded.reveal(step, Object.keys(this._plan?.modules ?? {}))) {
      await this.refreshPlan();
    }
  }

  async refreshPlan(): Promise<void> {
    const asked = ++this._planAsked;  // a newer request (another toggle) wins over an older answer
    let plan: api.IPlan | null = null;
    let planError: api.MlpipeApiError | null = null;
    try {
      plan = await api.getPlan(this._path, this._expanded.names());
    } catch (error) {
      planError = error instanceof api.MlpipeApiError ? error : new api.MlpipeApiError(String(error), 0);
    }
    if (asked !== this._planAsked || this._disposed) {
      return;
    }
    this._plan = plan;
    this._planError = planError;
    if (plan) {
      setLooks(plan.looks);
      // modules gone from the plan (renamed, removed) are forgotten; the server ignored them already
      this._expanded.prune(Object.keys(plan.modules ?? {}));
    }
    this._emit();
  }

  async refreshRuns(watchNewest = false): Promise<void> {
    try {
      this._runs = await api.listRuns(this._path);
    } catch {
      this._runs = [];
    }
    const newest = this._runs[0];
    if (newest && (watchNewest || !this._run || isActive(newest.status))) {
      await this.watch(newest.id);
    } else {
      this._emit();
    }
  }

  /** Follow a run: fetch it now and every second while it is going. */
  async watch(id: string): Promise<void> {
    this._watching = id;
    this._stopPolling();
    try {
      const run = await api.getRun(this._path, id);
      if (this._watching !== id || this._disposed) {
        return;
      }
      setLooks(run.looks);
      this._run = run;
    } catch {
      // the run may not be recorded yet: try again on the next tick
    }
    this._emit();
    const active = !this._run || this._run.id !== id || isActive(this._run.status);
    if (active && !this._disposed) {
      this._timer = window.setTimeout(() => void this._poll(id), POLL_MS);
    }
  }

  /** Start a run (saving the notebook is the caller's job) and follow it. */
  async start(options: { steps?: string[]; force?: boolean; params?: Record<string, unknown> } = {}): Promise<string> {
    const started = await api.startRun({ path: this._path, ...options });
    this._run = { id: started.id, status: started.status || 'pending', steps: {} };
    this._emit();
    await this.watch(started.id);
    return started.id;
  }

  async cancel(): Promise<void> {
    if (this._run && isActive(this._run.status)) {
      await api.cancelRun(this._path, this._run.id);
      await this.watch(this._run.id);
    }
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._stopPolling();
    window.clearInterval(this._discover);
    Signal.clearData(this);
  }

  private async _poll(id: string): Promise<void> {
    this._timer = null;
    if (this._watching !== id || this._disposed) {
      return;
    }
    await this.watch(id);
    if (this._run && this._run.id === id && !isActive(this._run.status)) {
      // finished: the runs list has its final counts now
      try {
        this._runs = await api.listRuns(this._path);
      } catch {
        // keep the old list
      }
      this._emit();
    }
  }

  /** A newer run than the watched one (started by the kernel or the CLI): follow it. */
  private async _discoverRuns(): Promise<void> {
    if (this._disposed || this._timer !== null || (this._run && isActive(this._run.status))) {
      return; // already following a run that is going
    }
    let runs: api.IRunSummary[];
    try {
      runs = await api.listRuns(this._path);
    } catch {
      return;
    }
    const newest = runs[0];
    if (newest && newest.id !== this._run?.id && !this._disposed) {
      this._runs = runs;
      await this.watch(newest.id);
    }
  }

  private _stopPolling(): void {
    if (this._timer !== null) {
      window.clearTimeout(this._timer);
      this._timer = null;
    }
  }

  private _emit(): void {
    if (!this._disposed) {
      this._changed.emit();
    }
  }

  private _path: string;
  private _plan: api.IPlan | null = null;
  private _planAsked = 0;
  private _expanded = new ExpandSet();
  private _planError: api.MlpipeApiError | null = null;
  private _runs: api.IRunSummary[] = [];
  private _run: api.IRunDetail | null = null;
  private _watching: string | null = null;
  private _timer: number | null = null;
  private _discover: number;
  private _disposed = false;
  private _changed = new Signal<this, void>(this);
}

/** One model per open notebook path. */
export class PipelineModels {
  get(path: string): PipelineModel {
    let model = this._models.get(path);
    if (!model) {
      model = new PipelineModel(path);
      this._models.set(path, model);
      void model.refresh();
    }
    return model;
  }

  rename(oldPath: string, newPath: string): void {
    const model = this._models.get(oldPath);
    if (model) {
      this._models.delete(oldPath);
      this._models.set(newPath, model);
      model.path = newPath;
    }
  }

  private _models = new Map<string, PipelineModel>();
}
