/** The REST API of the server extension, under `{baseUrl}mlpipe/api/`. */

import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { IStepError } from './format';
import { planEndpoint, runEndpoint } from './modules';
import { ILooks } from './states';

export interface IPlanStep {
  name: string;
  cells: number[];
  resources?: { compute?: string | null; num_gpus?: number | null; [key: string]: unknown };
  inputs?: string[];
  outputs?: string[];
  params?: string[];
  options?: Record<string, unknown>;
  /** The step's code as reuse compares it (comments and spacing aside), digested. */
  code_digest?: string | null;
  /** The module step this step is inside (`feats` for `feats.clean`), "" at top level. */
  scope?: string;
}

/** A module step of the plan (`%%step NAME --module SOURCE`, docs/modules.md). */
export interface IPlanModule {
  name: string;
  source?: string;
  label: string;
  version?: number | null;
  /** Every step it expands into, its binding node (named as the module step) first; nested modules' too. */
  steps: string[];
  outputs?: string[];
  scope?: string;
}

export interface IPlanEdge {
  from: string;
  to: string;
  variables?: string[];
}

/** LR: sources on the left; TB: sources on top (a narrow side panel). */
export type Direction = 'LR' | 'TB';

/** A step's box in a laid-out graph (top-left corner at x, y). */
export interface ILayoutNode {
  name: string;
  compute: string;
  num_gpus?: number;
  cell?: number;
  layer: number;
  order: number;
  x: number;
  y: number;
  width: number;
  height: number;
  /** A module step's node: collapsed (it stands for every member) or open (its binding node). */
  module?: ILayoutModule;
  /** The innermost open module this step is inside (its members are drawn marked). */
  group?: string;
}

/** What a module step's node carries in a layout (`panel/layout.py`). */
export interface ILayoutModule {
  label: string;
  version?: number | null;
  /** Every step the node stands for, its binding node first. */
  members: string[];
  /** Its own steps, without the binding node. */
  count: number;
  expanded: boolean;
}

/** An edge of a laid-out graph: its points and the SVG path through them. */
export interface ILayoutEdge {
  from: string;
  to: string;
  variables: string[];
  points: [number, number][];
  path: string;
  reversed: boolean;
}

/** A graph laid out by the server (`jupyter_mlpipe/panel/layout.py`, the only layout). */
export interface ILayout {
  direction: Direction;
  nodes: ILayoutNode[];
  edges: ILayoutEdge[];
  width: number;
  height: number;
  layers: number;
  crossings: number;
  /** Step statuses in precedence order: a collapsed module shows the first one any member has (vocab.py). */
  status_order?: string[];
}

/** A variable on an edge: the cell that defines it, the cells that read it (`plan/flows.py`). */
export interface IFlow {
  variable: string;
  from: string;
  to: string;
  defined_in: number[];
  read_in: number[];
}

export interface IPlan {
  notebook?: string;
  /** Each variable on an edge, where it is defined and read (the designer). */
  flows?: IFlow[];
  steps: IPlanStep[];
  edges: IPlanEdge[];
  params?: Record<string, unknown>;
  warnings?: string[];
  /** The graph laid out left to right and top to bottom: the side panel draws the one that fits. */
  layouts?: Record<Direction, ILayout>;
  /** Icon, label and colour of each status (`jupyter_mlpipe/vocab.py`). */
  looks?: ILooks;
  /** Module steps by name (each one node until opened). */
  modules?: Record<string, IPlanModule>;
}

export interface IRunSummary {
  id: string;
  status: string;
  started?: number | string | null;
  ended?: number | string | null;
  duration?: number | null;
  params?: Record<string, unknown>;
  step_counts?: Record<string, number>;
  /** A run of a published pipeline: its name, version and what triggered it (docs/publishing.md). */
  pipeline?: string | null;
  pipeline_version?: number | null;
  trigger?: { kind?: string } | null;
}

export interface IStepRun {
  status: string;
  duration?: number | null;
  started?: number | string | null;
  ended?: number | string | null;
  reason?: unknown;
  /** A reused step: the run that computed its outputs. */
  from_run?: string | null;
  /** The digest of the code it ran (as the plan's `code_digest`): differs once the step is edited. */
  code_digest?: string | null;
  error?: IStepError | string | null;
  notebook_path?: string | null;
  /** Whether the executed notebook is on disk (it lies in the hidden `.mlpipe` folder). */
  has_notebook?: boolean;
  /** `runs/{id}/steps/{name}/notebook`: where the REST API serves it (null when there is none). */
  notebook_endpoint?: string | null;
  /** What the step stored, by variable: its type and size (the designer's edges). */
  outputs?: Record<string, { type_name?: string | null; size?: number | null; summary?: string | null }>;
}

export interface IRunDetail {
  id: string;
  status: string;
  steps: Record<string, IStepRun>;
  metrics?: unknown;
  looks?: ILooks;
  /** While its backend starts (a run this server started): what to say, e.g. "starting Ray (first run ...)…". */
  connecting?: string | null;
  /** Why the run itself failed, when no step says it. */
  error?: string | null;
  /** The run's plan (`?plan=true`), laid out with the modules asked for open. */
  plan?: IPlan | null;
}

/** An error answered by the server: its message, and what to do about it. */
export class MlpipeApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly hint: string | null = null,
    readonly data: Record<string, unknown> = {}
  ) {
    super(message);
    this.name = 'MlpipeApiError';
  }
}

/** Call `mlpipe/api/{endpoint}` and return its JSON. */
export async function requestAPI<T>(
  endpoint: string,
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<T> {
  const url = URLExt.join(settings.baseUrl, 'mlpipe', 'api', endpoint);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new MlpipeApiError(
      `Could not reach the jupyter-mlpipe server extension: ${String(error)}`,
      0,
      'Check that jupyter-mlpipe is installed in the environment that runs Jupyter.'
    );
  }
  const text = await response.text();
  let data: any = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { message: text };
    }
  }
  if (!response.ok) {
    const message =
      (data && (data.message || data.error)) ||
      (response.status === 404
        ? 'The jupyter-mlpipe server extension is not enabled.'
        : `Request failed (${response.status}).`);
    throw new MlpipeApiError(String(message), response.status, data?.hint ?? null, data ?? {});
  }
  return data as T;
}

function query(path: string): string {
  return `?path=${encodeURIComponent(path)}`;
}

/** The plan, laid out with the module steps in `expand` drawn open (none: every module one node). */
export function getPlan(path: string, expand: readonly string[] = []): Promise<IPlan> {
  return requestAPI<IPlan>(planEndpoint(path, expand));
}

export async function listRuns(path: string): Promise<IRunSummary[]> {
  const data = await requestAPI<{ runs: IRunSummary[] }>('runs' + query(path));
  return data.runs ?? [];
}

/** A run; with `plan`, its plan too, laid out with the modules in `expand` open. */
export function getRun(path: string, id: string, options: { plan?: boolean; expand?: readonly string[] } = {}): Promise<IRunDetail> {
  return requestAPI<IRunDetail>(runEndpoint(path, id, options));
}

export interface IStartRun {
  path: string;
  params?: Record<string, unknown>;
  steps?: string[];
  force?: boolean;
}

export function startRun(body: IStartRun): Promise<{ id: string; status: string }> {
  return requestAPI('runs', { method: 'POST', body: JSON.stringify(body) });
}

export function cancelRun(path: string, id: string): Promise<unknown> {
  return requestAPI(`runs/${encodeURIComponent(id)}` + query(path), { method: 'DELETE' });
}
