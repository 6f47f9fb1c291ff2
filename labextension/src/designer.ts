/**
 * The designer in the side panel (#18): a step's options as a small form that rewrites its
 * `%%step` line in the open notebook (an edit of the cell's shared model, undone by Ctrl+Z in
 * the cell like any edit), the design actions (split, merge, scratch, new step), and what flows
 * along an edge (each variable with its type and size in the watched run; clicking one
 * highlights the cell that defines it and the cells that read it).
 */

import { NotebookPanel } from '@jupyterlab/notebook';

import { IFlow, IStepRun, requestAPI, MlpipeApiError } from './api';
import { DesignEdit } from './designops';
import { cellNumber, formatSize } from './format';
import { classifyCells, ICellInfo, stepLineText } from './stepline';
import { FORM_FIELDS, FormFlag, formValues, setOption, withLineText } from './stepoptions';

/** The cell classes of a highlighted variable (style/designer.css). */
export const DEFINES_CLASS = 'mlps-cell-defines';
export const READS_CLASS = 'mlps-cell-reads';

/** The design commands the side panel offers as buttons (designcommands.ts). */
export const DESIGN_ACTIONS: readonly [string, string, string][] = [
  ['mlpipe:split-step', 'Split here', 'Split the step at the active cell: it becomes the first cell of a new step'],
  ['mlpipe:merge-step', 'Merge into previous', 'Merge the step of the active cell into the step before it'],
  ['mlpipe:toggle-scratch', 'Scratch', 'Mark the active cell %%scratch (run in the kernel, not in the pipeline), or unmark it'],
  ['mlpipe:new-step-after', 'New step after', 'Insert a new %%step cell after the last cell of this step']
];

/** What a notebook's cells are, as the pure design operations read them. */
export function cellInfos(panel: NotebookPanel): ICellInfo[] {
  const cells = panel.content.model?.cells;
  const out: ICellInfo[] = [];
  for (let i = 0; cells && i < cells.length; i++) {
    const cell = cells.get(i);
    const tags = cell.getMetadata('tags');
    out.push({ source: cell.sharedModel.getSource(), cellType: cell.type, tags: Array.isArray(tags) ? (tags as string[]) : [] });
  }
  return out;
}

/**
 * Replace a cell's text by `source` as the smallest edit of its shared model (the unchanged
 * start and end stay as they are, with the cursor): one undoable change of that cell.
 */
export function replaceSource(panel: NotebookPanel, index: number, source: string): void {
  const shared = panel.content.model!.cells.get(index).sharedModel;
  const old = shared.getSource();
  if (old === source) {
    return;
  }
  let start = 0;
  while (start < old.length && start < source.length && old[start] === source[start]) {
    start++;
  }
  let end = 0;
  while (end < old.length - start && end < source.length - start && old[old.length - 1 - end] === source[source.length - 1 - end]) {
    end++;
  }
  shared.updateSource(start, old.length - end, source.slice(start, source.length - end));
}

/** Make an edit of the design operations in the notebook: a cell's text, or a new code cell (then active). */
export function applyEdit(panel: NotebookPanel, edit: DesignEdit): void {
  if (edit.kind === 'source') {
    replaceSource(panel, edit.cell, edit.source);
    return;
  }
  panel.content.model!.sharedModel.insertCell(edit.insertAt, { cell_type: 'code', source: edit.source, metadata: {} });
  panel.content.activeCellIndex = edit.insertAt;
  void panel.content.scrollToItem(edit.insertAt, 'center');
}

/** Whether the planner's parser accepts `%%step TEXT` (GET stepline): null, or its message and hint. */
export async function checkStepLine(text: string): Promise<{ message: string; hint: string | null } | null> {
  try {
    await requestAPI('stepline?line=' + encodeURIComponent(text));
    return null;
  } catch (error) {
    if (error instanceof MlpipeApiError) {
      return { message: error.message, hint: error.hint };
    }
    return { message: String(error), hint: null };
  }
}

/** Mark the cells of a variable: the one that defines it and those that read it (the others lose the mark). */
export function highlightCells(panel: NotebookPanel, defines: readonly number[], reads: readonly number[]): void {
  panel.content.widgets.forEach((cell, i) => {
    cell.toggleClass(DEFINES_CLASS, defines.includes(i));
    cell.toggleClass(READS_CLASS, reads.includes(i) && !defines.includes(i));
  });
}

function el(tag: string, attrs: Record<string, string> = {}, ...children: (Node | string)[]): HTMLElement {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    node.setAttribute(k, v);
  }
  node.append(...children);
  return node;
}

/** What the side panel needs of the notebook the designer edits. */
export interface IDesignerHost {
  /** The open notebook of the side panel's pipeline (null: not open in an editor). */
  notebook(): NotebookPanel | null;
  /** Run a JupyterLab command (the design actions). */
  execute(command: string): void;
  /** Scroll to a cell and make it active. */
  selectCell(index: number): void;
  /** Mark the cells that define and read a variable (none: unmark all). */
  highlight(defines: readonly number[], reads: readonly number[]): void;
}

/**
 * The form of step `name`: each option of its `%%step` line. A change is checked by the
 * planner's parser first; a line it refuses is not written, its message shows under the field.
 */
export function stepForm(host: IDesignerHost, name: string, said: Map<string, string>): HTMLElement | null {
  const panel = host.notebook();
  if (!panel) {
    return null;
  }
  const infos = cellInfos(panel);
  const index = classifyCells(infos).findIndex(r => r.kind === 'step' && r.step === name);
  if (index < 0) {
    return null;
  }
  const line = stepLineText(infos[index].source) ?? '';
  const values = formValues(line);
  const form = el('form', { class: 'mlps-design-form', 'data-step': name, 'aria-label': `options of step ${name}` });
  form.addEventListener('submit', event => event.preventDefault());
  for (const field of FORM_FIELDS) {
    const id = `mlps-design-${name}-${field.flag.slice(2)}`;
    const input = el('input', {
      id, class: 'mlps-design-input', name: field.flag, 'data-flag': field.flag, title: `${field.flag}: ${field.title}`,
      type: field.kind === 'switch' ? 'checkbox' : 'text', placeholder: field.placeholder, autocomplete: 'off'
    }) as HTMLInputElement;
    if (field.kind === 'switch') {
      input.checked = values[field.flag] !== '';
    } else {
      input.value = values[field.flag];
      input.inputMode = field.kind === 'number' ? 'decimal' : 'text';
    }
    const key = `${name} ${field.flag}`;
    const message = el('div', { class: 'mlps-design-error', role: 'alert', 'data-flag': field.flag });
    message.textContent = said.get(key) ?? '';
    message.hidden = !said.has(key);
    const commit = (): void => void write(host, name, field.flag, field.kind === 'switch' ? (input.checked ? 'true' : '') : input.value, said, message);
    input.addEventListener('change', commit);
    input.addEventListener('keydown', (event: KeyboardEvent) => {
      if (event.key === 'Enter') {
        event.preventDefault();
        commit();
      }
    });
    form.appendChild(el('label', { class: 'mlps-design-field', for: id }, el('span', { class: 'mlps-design-label' }, field.label), input));
    form.appendChild(message);
  }
  const actions = el('div', { class: 'mlps-design-actions', role: 'group', 'aria-label': 'design actions' });
  for (const [command, label, title] of DESIGN_ACTIONS) {
    const button = el('button', { class: 'jp-mod-styled mlps-design-action', type: 'button', 'data-command': command, title }, label);
    button.addEventListener('click', () => host.execute(command));
    actions.appendChild(button);
  }
  return el('div', { class: 'mlps-designer', 'data-step': name },
    el('div', { class: 'mlps-design-title' }, 'Options (rewrite the %%step line)'), form, actions);
}

/** Check the new line with the planner's parser; write it when accepted, else say why under the field. */
async function write(host: IDesignerHost, name: string, flag: FormFlag, value: string, said: Map<string, string>, message: HTMLElement): Promise<void> {
  const panel = host.notebook();
  if (!panel) {
    return;
  }
  const key = `${name} ${flag}`;
  const infos = cellInfos(panel);
  const index = classifyCells(infos).findIndex(r => r.kind === 'step' && r.step === name);
  if (index < 0) {
    return;
  }
  const old = stepLineText(infos[index].source) ?? '';
  const next = setOption(old, flag, value);
  if (next === old) {
    said.delete(key);
    message.hidden = true;
    return;
  }
  const problem = await checkStepLine(next);
  if (problem) {
    said.set(key, problem.message + (problem.hint ? ` ${problem.hint}` : ''));
    message.textContent = said.get(key)!;
    message.hidden = false;
    return;
  }
  said.delete(key);
  message.textContent = '';
  message.hidden = true;
  // the cell may have changed while the server answered: rewrite what it says now
  const source = panel.content.model!.cells.get(index).sharedModel.getSource();
  if (stepLineText(source) === old) {
    replaceSource(panel, index, withLineText(source, next));
  }
}

/**
 * What flows along the edge `from` → `to`: each variable with its type and size in the watched
 * run (`outputs` of the producing step); a click marks its defining and reading cells and lists them.
 */
export function flowDetails(
  host: IDesignerHost,
  edge: { from: string; to: string; variables: string[] },
  flows: readonly IFlow[],
  producer: IStepRun | undefined,
  chosen: string | null,
  choose: (variable: string | null) => void
): HTMLElement {
  const rows: Node[] = [el('div', { class: 'mlps-details-title' }, `${edge.from} → ${edge.to}`)];
  if (!edge.variables.length) {
    rows.push(el('div', { class: 'mlps-muted' }, 'no values: an order only (--after, or a step the planner cannot see into)'));
  }
  const list = el('ul', { class: 'mlps-flow-list' });
  for (const variable of edge.variables) {
    const out = producer?.outputs?.[variable];
    const what = out ? [out.type_name ?? '', formatSize(out.size)].filter(Boolean).join(' · ') : 'not run yet';
    const button = el('button', {
      class: `mlps-flow-var${chosen === variable ? ' mlps-selected' : ''}`, type: 'button', 'data-variable': variable,
      title: `show where ${variable} is defined and read`
    }, el('code', {}, variable), el('span', { class: 'mlps-muted' }, ` ${what}`));
    button.addEventListener('click', () => choose(chosen === variable ? null : variable));
    const item = el('li', {}, button);
    if (chosen === variable) {
      const flow = flows.find(f => f.from === edge.from && f.to === edge.to && f.variable === variable);
      item.appendChild(cellLinks(host, flow));
    }
    list.appendChild(item);
  }
  rows.push(list);
  return el('div', { class: 'mlps-details mlps-flow', 'data-from': edge.from, 'data-to': edge.to }, ...rows);
}

function cellLinks(host: IDesignerHost, flow: IFlow | undefined): HTMLElement {
  const box = el('div', { class: 'mlps-flow-cells', 'data-role': 'flow-cells' });
  if (!flow) {
    box.appendChild(el('span', { class: 'mlps-muted' }, 'save the notebook to see where it is defined and read'));
    return box;
  }
  const link = (index: number, role: string): HTMLElement => {
    const a = el('button', { class: `mlps-cell-link mlps-${role}`, type: 'button', 'data-cell': String(index) }, `[${cellNumber(index)}]`);
    a.addEventListener('click', () => host.selectCell(index));
    return a;
  };
  box.append(
    el('span', { class: 'mlps-flow-role' }, 'defined in cell '), ...flow.defined_in.map(i => link(i, 'defines')),
    el('span', { class: 'mlps-flow-role' }, flow.read_in.length ? ' · read in cell ' : ' · read by no cell directly'),
    ...flow.read_in.map(i => link(i, 'reads')));
  return box;
}
