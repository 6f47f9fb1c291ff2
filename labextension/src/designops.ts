/**
 * The designer's edits of a notebook, as text (pure): split a step at a cell, merge a step
 * into the one before, mark a cell scratch (or not), add a new step after one. Each answers
 * the edit to make, or why it cannot be made (a refusal a person can act on); the commands
 * apply the edit to the notebook's model, so it is undone like any edit.
 */

import { SCRATCH_MAGIC, STEP_MAGIC, classifyCells, ICellInfo, ICellRole, stepLineText, suggestStepName } from './stepline';
import { tokenize } from './stepoptions';

/** Change one cell's source, or insert a new code cell at `insertAt`. */
export type DesignEdit =
  | { kind: 'source'; cell: number; source: string; note?: string; dropped?: string[] }
  | { kind: 'insert'; insertAt: number; source: string; name: string };

export type DesignResult = { ok: true; edit: DesignEdit } | { ok: false; message: string };

function refuse(message: string): DesignResult {
  return { ok: false, message };
}

/** The flags of a step line (`--foreach`, ...), with `--x=v` read as `--x`. */
function flags(text: string): string[] {
  return tokenize(text).tokens.slice(1).map(t => t.value).filter(v => v.startsWith('--')).map(v => v.split('=')[0]);
}

/** What makes a step special: a fan-out (`--foreach`/`--files`) or a module (`--module`) step. */
function special(text: string): string | null {
  const f = flags(text);
  if (f.includes('--module')) {
    return 'a module step (--module)';
  }
  if (f.includes('--foreach') || f.includes('--files')) {
    return `a fan-out step (${f.includes('--foreach') ? '--foreach' : '--files'})`;
  }
  return null;
}

function stepNames(roles: ICellRole[]): string[] {
  return roles.filter(r => r.kind === 'step').map(r => r.step ?? '');
}

/** The index of the `%%step` cell of the step cell `index` belongs to (or -1). */
export function stepStart(roles: ICellRole[], index: number): number {
  const step = roles[index]?.step;
  if (!step) {
    return -1;
  }
  for (let i = index; i >= 0; i--) {
    if (roles[i].kind === 'step') {
      return i;
    }
  }
  return -1;
}

/** The last cell of the step that starts at `start` (its last plain code cell). */
export function stepEnd(roles: ICellRole[], start: number): number {
  let last = start;
  for (let i = start + 1; i < roles.length && roles[i].kind !== 'step'; i++) {
    if (roles[i].kind === 'continuation') {
      last = i;
    }
  }
  return last;
}

/** `%%step NAME` on top of the cell: it starts a new step, the cells after it follow. */
export function splitStep(cells: readonly ICellInfo[], index: number): DesignResult {
  const roles = classifyCells(cells);
  const role = roles[index];
  if (!role || cells[index].cellType !== 'code') {
    return refuse('Select a code cell inside a step to split the step there.');
  }
  if (role.kind === 'step') {
    return refuse(`This cell already starts step '${role.step}': select a later cell of the step to split it there.`);
  }
  if (role.kind !== 'continuation') {
    const what = { scratch: 'a scratch cell', control: 'a %pipeline cell', parameters: 'the parameters cell', preamble: 'before the first step (the preamble)' } as Record<string, string>;
    return refuse(
      `This cell is ${what[role.kind] ?? 'not in a step'}, so there is no step to split here.` +
      (role.kind === 'preamble' ? ' Use "mlpipe: Make this cell a step" to start a step with it.' : '')
    );
  }
  const start = stepStart(roles, index);
  const kind = special(stepLineText(cells[start].source) ?? '');
  if (kind) {
    return refuse(`Step '${role.step}' is ${kind}: its cells run together, so it cannot be split. ` +
      'Move the cells you want apart below it and make them a step of their own.');
  }
  const name = suggestStepName(cells[index].source, stepNames(roles));
  return { ok: true, edit: { kind: 'source', cell: index, source: `${STEP_MAGIC} ${name}\n${cells[index].source}`, note: name } };
}

/** The source without its first line (the `%%step` or `%%scratch` line), leading blank lines kept. */
function withoutFirstLine(source: string): string {
  const lead = /^\n*/.exec(source)![0];
  const body = source.slice(lead.length);
  const end = body.indexOf('\n');
  return lead + (end < 0 ? '' : body.slice(end + 1));
}

/**
 * Remove the `%%step` line of the step of cell `index`: its cells join the step before.
 * Refused for the first step, for fan-out and module steps (on either side), and for a step
 * another step runs `--after`. Options of the merged step that go away are in `dropped`.
 */
export function mergeStep(cells: readonly ICellInfo[], index: number): DesignResult {
  const roles = classifyCells(cells);
  const start = stepStart(roles, index);
  if (start < 0) {
    return refuse('Select a cell of a step to merge it into the step before.');
  }
  const name = roles[start].step!;
  let before = -1;
  for (let i = start - 1; i >= 0; i--) {
    if (roles[i].kind === 'step') {
      before = i;
      break;
    }
  }
  if (before < 0) {
    return refuse(`'${name}' is the first step: there is no step before it to merge it into.`);
  }
  const previous = roles[before].step!;
  const text = stepLineText(cells[start].source) ?? '';
  const mine = special(text);
  if (mine) {
    return refuse(`'${name}' is ${mine}: merged into '${previous}' it would lose what makes it one. ` +
      'Remove those options first if that is what you want.');
  }
  const theirs = special(stepLineText(cells[before].source) ?? '');
  if (theirs) {
    return refuse(`'${previous}' is ${theirs}: the cells of '${name}' would run as part of it (once per element, ` +
      'or inside the module\'s call), which changes what they compute. Merge refused.');
  }
  for (let i = 0; i < cells.length; i++) {
    if (roles[i].kind !== 'step' || i === start) {
      continue;
    }
    const tokens = tokenize(stepLineText(cells[i].source) ?? '').tokens.map(t => t.value);
    const after: string[] = [];
    tokens.forEach((t, k) => {
      if (t === '--after' || t.startsWith('--after=')) {
        after.push(...(t === '--after' ? tokens[k + 1] ?? '' : t.slice(8)).split(',').map(s => s.trim()));
      }
    });
    if (after.includes(name)) {
      return refuse(`Step '${roles[i].step}' runs --after ${name}: change its --after first, then merge '${name}'.`);
    }
  }
  const dropped = tokenize(text).tokens.slice(1).map(t => t.value);
  return {
    ok: true,
    edit: { kind: 'source', cell: start, source: withoutFirstLine(cells[start].source), note: previous, dropped }
  };
}

/** Put `%%scratch` on top of a cell (it runs in the kernel, not in the pipeline), or take it off. */
export function toggleScratch(cells: readonly ICellInfo[], index: number): DesignResult {
  const cell = cells[index];
  if (!cell || cell.cellType !== 'code') {
    return refuse('Only a code cell can be a scratch cell.');
  }
  const roles = classifyCells(cells);
  const role = roles[index];
  if (role.kind === 'step') {
    return refuse(`This cell starts step '${role.step}': merge the step into the one before (or remove its ` +
      '%%step line) before marking it scratch.');
  }
  const text = cell.source.replace(/^\n+/, '');
  if (text.startsWith(SCRATCH_MAGIC)) {
    return { ok: true, edit: { kind: 'source', cell: index, source: withoutFirstLine(cell.source), note: 'unmarked' } };
  }
  if ((cell.tags ?? []).includes('scratch')) {
    return refuse('This cell is scratch by its "scratch" tag: remove the tag (property inspector) to put it back in the pipeline.');
  }
  return { ok: true, edit: { kind: 'source', cell: index, source: `${SCRATCH_MAGIC}\n${cell.source}`, note: 'marked' } };
}

/** A new `%%step NAME` cell after the last cell of the step of cell `index` (after the cell when not in a step). */
export function newStepAfter(cells: readonly ICellInfo[], index: number): DesignResult {
  const roles = classifyCells(cells);
  const start = stepStart(roles, index);
  const at = (start < 0 ? Math.min(index, cells.length - 1) : stepEnd(roles, start)) + 1;
  const name = suggestStepName('', stepNames(roles));
  return { ok: true, edit: { kind: 'insert', insertAt: Math.max(at, 0), source: `${STEP_MAGIC} ${name}\n`, name } };
}
