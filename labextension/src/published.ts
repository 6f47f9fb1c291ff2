/**
 * Published pipelines in JupyterLab: the "Published" side panel (this notebook's published
 * versions, their schedules and recent triggered runs) and the "Publish this pipeline" command
 * (asks for the name, shows the new version and a curl example with a placeholder key).
 *
 * Everything comes from the REST API (`GET pipelines?path=NB`, `GET pipelines/NAME/runs`,
 * `POST pipelines`); see docs/publishing.md.
 */

import { JupyterFrontEnd } from '@jupyterlab/application';
import { Dialog, ICommandPalette, InputDialog, showDialog, showErrorMessage } from '@jupyterlab/apputils';
import { URLExt } from '@jupyterlab/coreutils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ServerConnection } from '@jupyterlab/services';
import { Widget } from '@lumino/widgets';

import { MlpipeApiError, requestAPI } from './api';
import { pipelineIcon } from './icon';
import { isStepNotebookPath } from './stepnotebook';

export const PUBLISH_COMMAND = 'mlpipe:publish';

export interface IPublishedVersion {
  version: number;
  created: number;
  description: string | null;
  path: string | null;
  params: Record<string, { default: unknown; type: string }>;
}

export interface IPublishedRun {
  id: string;
  status: string;
  started: number;
  pipeline_version: number | null;
  trigger: { kind?: string; schedule?: string } | null;
}

export interface IPublished {
  name: string;
  default: number;
  enabled: boolean;
  versions: IPublishedVersion[];
  schedules: { id: string; describe: string; paused: boolean; overlap: string; last_outcome: string | null }[];
  last_run: IPublishedRun | null;
}

function query(path: string): string {
  return '?' + new URLSearchParams({ path }).toString();
}

export async function listPublished(path: string): Promise<IPublished[]> {
  const data = await requestAPI<{ pipelines: IPublished[] }>('pipelines' + query(path));
  return data.pipelines ?? [];
}

export async function publishedRuns(name: string, limit = 5): Promise<IPublishedRun[]> {
  const data = await requestAPI<{ runs: IPublishedRun[] }>(
    `pipelines/${encodeURIComponent(name)}/runs?limit=${limit}`
  );
  return data.runs ?? [];
}

export function publishNotebook(
  path: string,
  name: string,
  description?: string
): Promise<{ name: string; version: number; default: number }> {
  return requestAPI('pipelines', {
    method: 'POST',
    body: JSON.stringify({ path, name, ...(description ? { description } : {}) })
  });
}

/** The curl line that triggers `name` (the key is a placeholder: keys are made with `mlpipe keys create`). */
export function curlExample(name: string, baseUrl: string): string {
  const url = URLExt.join(baseUrl, 'mlpipe', 'api', 'pipelines', encodeURIComponent(name), 'runs');
  return `curl -X POST ${url} \\\n  -H "Authorization: Bearer <YOUR_KEY>" \\\n  -d '{"params": {}}'`;
}

function el(tag: string, attrs: Record<string, string> = {}, ...children: (Node | string)[]): HTMLElement {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    node.setAttribute(k, v);
  }
  node.append(...children);
  return node;
}

function when(seconds: number | null | undefined): string {
  return seconds ? new Date(seconds * 1000).toLocaleString() : '';
}

/** The "Published" panel: what the current notebook published, refreshed while it is shown. */
export class PublishedPanel extends Widget {
  constructor(private _publish: () => void) {
    super();
    this.id = 'mlpipe-published-panel';
    this.addClass('mlps-published');
    this.title.caption = 'Published pipelines (jupyter-mlpipe)';
    this.node.tabIndex = -1;
    this._render();
  }

  /** The notebook (a path from the server root) whose published pipelines are shown, or null. */
  get path(): string | null {
    return this._path;
  }
  set path(value: string | null) {
    if (value === this._path) {
      return;
    }
    this._path = value;
    this._pipelines = [];
    this._runs = {};
    this._error = null;
    void this.refresh();
  }

  async refresh(): Promise<void> {
    const path = this._path;
    if (!path) {
      this._render();
      return;
    }
    try {
      const pipelines = await listPublished(path);
      const runs: Record<string, IPublishedRun[]> = {};
      for (const p of pipelines) {
        runs[p.name] = await publishedRuns(p.name);
      }
      if (path === this._path) {
        this._pipelines = pipelines;
        this._runs = runs;
        this._error = null;
      }
    } catch (error) {
      this._error = error instanceof Error ? error.message : String(error);
    }
    this._render();
  }

  protected onAfterShow(): void {
    void this.refresh();
    this._timer = window.setInterval(() => void this.refresh(), 15000);
  }

  protected onBeforeHide(): void {
    window.clearInterval(this._timer);
  }

  dispose(): void {
    window.clearInterval(this._timer);
    super.dispose();
  }

  private _render(): void {
    const node = this.node;
    node.textContent = '';
    node.append(el('h2', { class: 'mlps-published-title' }, 'Published'));
    if (!this._path) {
      node.append(el('p', { class: 'mlps-published-empty' }, 'Open a notebook to see its published pipelines.'));
      return;
    }
    const button = el('button', { class: 'jp-Button mlps-published-publish', type: 'button' }, 'Publish this pipeline');
    button.addEventListener('click', () => this._publish());
    node.append(button);
    if (this._error) {
      node.append(el('p', { class: 'mlps-published-error' }, this._error));
    }
    if (!this._pipelines.length) {
      node.append(el('p', { class: 'mlps-published-empty' }, 'Not published yet.'));
      return;
    }
    for (const p of this._pipelines) {
      const versions = p.versions.filter(v => v.path === this._path);
      const section = el('section', { class: 'mlps-published-pipeline', 'data-name': p.name });
      section.append(
        el(
          'h3',
          {},
          p.name,
          el('span', { class: 'mlps-published-state' }, ` default v${p.default}${p.enabled ? '' : ' · disabled'}`)
        )
      );
      const list = el('ul', { class: 'mlps-published-versions' });
      for (const v of versions) {
        list.append(
          el(
            'li',
            { 'data-version': String(v.version) },
            `v${v.version}${v.version === p.default ? ' (default)' : ''} · ${when(v.created)}` +
              (v.description ? ` · ${v.description}` : '')
          )
        );
      }
      section.append(list);
      for (const s of p.schedules) {
        section.append(
          el(
            'div',
            { class: 'mlps-published-schedule' },
            `${s.describe}${s.paused ? ' (paused)' : ''} · overlap ${s.overlap}` +
              (s.last_outcome ? ` · last: ${s.last_outcome}` : '')
          )
        );
      }
      const runs = this._runs[p.name] ?? [];
      const table = el('ul', { class: 'mlps-published-runs' });
      for (const r of runs) {
        table.append(
          el(
            'li',
            { 'data-run': r.id },
            `${r.id.slice(-6)} · v${r.pipeline_version ?? '?'} · ${r.status} · ${r.trigger?.kind ?? '?'} · ${when(r.started)}`
          )
        );
      }
      section.append(runs.length ? table : el('p', { class: 'mlps-published-empty' }, 'No triggered runs yet.'));
      node.append(section);
    }
  }

  private _path: string | null = null;
  private _pipelines: IPublished[] = [];
  private _runs: Record<string, IPublishedRun[]> = {};
  private _error: string | null = null;
  private _timer = 0;
}

/** Add the "Publish this pipeline" command and the Published panel; returns the panel. */
export function addPublishing(
  app: JupyterFrontEnd,
  tracker: INotebookTracker,
  palette: ICommandPalette | null
): PublishedPanel {
  const panel = new PublishedPanel(() => void app.commands.execute(PUBLISH_COMMAND));
  panel.title.icon = pipelineIcon;
  panel.title.label = 'Published';
  app.shell.add(panel, 'right', { rank: 660 });

  const current = () => {
    const widget = tracker.currentWidget;
    return widget && !isStepNotebookPath(widget.context.path) ? widget : null;
  };
  tracker.currentChanged.connect(() => {
    panel.path = current()?.context.path ?? null;
  });

  app.commands.addCommand(PUBLISH_COMMAND, {
    label: 'Publish this pipeline',
    caption: 'Snapshot this notebook as the next version of a published pipeline',
    icon: pipelineIcon,
    isEnabled: () => current() !== null,
    execute: async () => {
      const widget = current();
      if (!widget) {
        return;
      }
      const stem = widget.context.path.split('/').pop()!.replace(/\.ipynb$/, '');
      const asked = await InputDialog.getText({
        title: 'Publish this pipeline',
        label: 'Pipeline name (letters, digits, _ - .)',
        text: stem.replace(/[^A-Za-z0-9_.-]/g, '-').replace(/^[^A-Za-z]+/, '') || 'pipeline'
      });
      if (!asked.button.accept || !asked.value) {
        return;
      }
      try {
        await widget.context.save(); // a snapshot is of the saved file
        const made = await publishNotebook(widget.context.path, asked.value.trim());
        panel.path = widget.context.path;
        await panel.refresh();
        const body = el(
          'div',
          { class: 'mlps-published-dialog' },
          el('p', { class: 'mlps-published-made' }, `${made.name} v${made.version}`),
          el(
            'p',
            {},
            made.default === made.version
              ? 'It is the default version.'
              : `The default is still v${made.default} (mlpipe published ${made.name} --set-default ${made.version}).`
          ),
          el('p', {}, `Trigger it over REST with a key from: mlpipe keys create ${made.name}`),
          el('pre', { class: 'mlps-published-curl' }, curlExample(made.name, ServerConnection.makeSettings().baseUrl))
        );
        await showDialog({
          title: 'Published',
          body: new Widget({ node: body }),
          buttons: [Dialog.okButton({ label: 'OK' })]
        });
      } catch (error) {
        const text =
          error instanceof MlpipeApiError && error.hint ? `${error.message}\n\n${error.hint}` : String(
            error instanceof Error ? error.message : error
          );
        await showErrorMessage('Publish this pipeline', text);
      }
    }
  });
  if (palette) {
    palette.addItem({ command: PUBLISH_COMMAND, category: 'Pipeline' });
  }
  return panel;
}
