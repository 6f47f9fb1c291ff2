/**
 * The `%%step` line and the role of each cell, as the planner sees them.
 *
 * Mirrors `jupyter_mlpipe/notebook.py` (cell roles) and `options.py` (the step
 * line) closely enough for badges: the server's plan stays the authority.
 */

export const STEP_MAGIC = '%%step';
export const SCRATCH_MAGIC = '%%scratch';
export const STEP_NAME_RE = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;

/** What a `%%step` line asks for (the options a badge shows). */
export interface IStepLine {
  name: string;
  compute: string;
  gpus: number | null;
  cpus: number | null;
  /** Set when the line is not valid: what is wrong, in words. */
  error: string | null;
}

export type CellKind =
  | 'step'
  | 'continuation'
  | 'scratch'
  | 'control'
  | 'parameters'
  | 'preamble'
  | 'other';

export interface ICellInfo {
  source: string;
  cellType: string;
  tags?: readonly string[];
}

export interface ICellRole {
  kind: CellKind;
  /** The step a step or continuation cell belongs to. */
  step: string | null;
  /** The parsed step line of a step cell. */
  line: IStepLine | null;
}

function firstLine(source: string): string {
  const text = source.replace(/^\n+/, '');
  const end = text.indexOf('\n');
  return (end < 0 ? text : text.slice(0, end)).trim();
}

/** Split like shlex (quotes, `#` comments), enough for step lines. */
export function splitArgs(text: string): string[] {
  const out: string[] = [];
  let current = '';
  let started = false;
  let quote: string | null = null;
  for (const ch of text) {
    if (quote) {
      if (ch === quote) {
        quote = null;
      } else {
        current += ch;
      }
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      started = true;
    } else if (ch === '#' && !started) {
      break;
    } else if (/\s/.test(ch)) {
      if (started) {
        out.push(current);
        current = '';
        started = false;
      }
    } else {
      current += ch;
      started = true;
    }
  }
  if (started) {
    out.push(current);
  }
  return out;
}

/** The text after `%%step` if the cell's first line is a step line, else null. */
export function stepLineText(source: string): string | null {
  const text = source.replace(/^\n+/, '');
  if (!text.startsWith(STEP_MAGIC)) {
    return null;
  }
  const first = firstLine(text);
  if (first.length > STEP_MAGIC.length && !/\s/.test(first[STEP_MAGIC.length])) {
    return null; // e.g. %%steps
  }
  return first.slice(STEP_MAGIC.length).trim();
}

function option(argv: string[], flag: string): string | null {
  for (let i = 1; i < argv.length; i++) {
    if (argv[i] === flag && i + 1 < argv.length) {
      return argv[i + 1];
    }
    if (argv[i].startsWith(flag + '=')) {
      return argv[i].slice(flag.length + 1);
    }
  }
  return null;
}

function numberOption(argv: string[], flag: string): number | null {
  const text = option(argv, flag);
  if (text === null) {
    return null;
  }
  const value = Number(text);
  return Number.isFinite(value) ? value : null;
}

/** Parse the text after `%%step`: name, compute target, resources. */
export function parseStepLine(line: string): IStepLine {
  const argv = splitArgs(line);
  const gpus = numberOption(argv, '--gpus');
  const cpus = numberOption(argv, '--cpus');
  const compute = option(argv, '--compute') ?? (gpus ? 'gpu' : 'cpu');
  if (!argv.length) {
    return { name: '', compute, gpus, cpus, error: '%%step needs a step name' };
  }
  const name = argv[0];
  let error: string | null = null;
  if (name.startsWith('-')) {
    error = '%%step needs a step name before the options';
  } else if (!STEP_NAME_RE.test(name)) {
    error = `invalid step name ${JSON.stringify(name)}`;
  } else if (argv.length > 1 && !argv[1].startsWith('-')) {
    error = 'a step name cannot contain spaces';
  }
  return { name: name.startsWith('-') ? '' : name, compute, gpus, cpus, error };
}

const CONTROL_LINE = /^\s*(%pipeline\b.*|%load_ext\s+jupyter_mlpipe\s*|%reload_ext\s+jupyter_mlpipe\s*|#.*)?$/;

/** A cell that only drives the pipeline (or is empty): never part of a step. */
export function isControlCell(source: string): boolean {
  if (!source.trim()) {
    return true;
  }
  if (/^\s*%pipeline\b/m.test(source)) {
    return true;
  }
  return source.split('\n').every(l => CONTROL_LINE.test(l));
}

/** The role of each cell: the rules of `jupyter_mlpipe/notebook.py`. */
export function classifyCells(cells: readonly ICellInfo[]): ICellRole[] {
  let current: string | null = null;
  return cells.map(cell => {
    const tags = cell.tags ?? [];
    if (cell.cellType !== 'code') {
      return { kind: 'other', step: null, line: null };
    }
    const text = stepLineText(cell.source);
    if (text !== null) {
      const line = parseStepLine(text);
      current = line.name || text.split(/\s+/)[0] || '';
      return { kind: 'step', step: current, line };
    }
    if (cell.source.replace(/^\n+/, '').startsWith(SCRATCH_MAGIC) || tags.includes('scratch')) {
      return { kind: 'scratch', step: null, line: null };
    }
    if (isControlCell(cell.source)) {
      return { kind: cell.source.trim() ? 'control' : 'other', step: null, line: null };
    }
    if (tags.includes('parameters')) {
      return { kind: 'parameters', step: null, line: null };
    }
    if (current === null) {
      return { kind: 'preamble', step: null, line: null };
    }
    return { kind: 'continuation', step: current, line: null };
  });
}

const PY_KEYWORDS = new Set([
  'False', 'None', 'True', 'and', 'as', 'assert', 'async', 'await', 'break', 'class',
  'continue', 'def', 'del', 'elif', 'else', 'except', 'finally', 'for', 'from', 'global',
  'if', 'import', 'in', 'is', 'lambda', 'nonlocal', 'not', 'or', 'pass', 'raise', 'return',
  'try', 'while', 'with', 'yield', 'print', 'self', '_'
]);

function cleanName(name: string): string {
  let out = name.replace(/[^A-Za-z0-9_-]+/g, '_').replace(/^[_-]+|[_-]+$/g, '');
  if (!out) {
    return 'step';
  }
  if (!/^[A-Za-z_]/.test(out)) {
    out = 'step_' + out;
  }
  return out.slice(0, 64);
}

/**
 * A step name from a cell's code: the first variable it assigns at top level
 * (`model = ...`, `X_train, X_test = ...`), else the first function or class
 * it defines, else the first function it calls; `step` if nothing fits.
 * Names in `taken` are avoided (`name_2`, `name_3`, ...).
 */
export function suggestStepName(code: string, taken: Iterable<string> = []): string {
  const used = new Set(taken);
  let base: string | null = null;
  const lines = code.split('\n').filter(l => !/^\s*(%|#|!)/.test(l));
  for (const line of lines) {
    if (/^\s/.test(line)) {
      continue; // only top-level statements
    }
    const assign = /^\(?\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:,[^=]*)?\)?\s*(?::[^=]+)?(?:[-+*/%|&^@]|\*\*|\/\/)?=(?!=)/.exec(line);
    if (assign && !PY_KEYWORDS.has(assign[1])) {
      base = assign[1];
      break;
    }
  }
  if (!base) {
    for (const line of lines) {
      const def = /^(?:async\s+)?(?:def|class)\s+([A-Za-z_][A-Za-z0-9_]*)/.exec(line);
      if (def) {
        base = def[1];
        break;
      }
    }
  }
  if (!base) {
    for (const line of lines) {
      const call = /^([A-Za-z_][A-Za-z0-9_.]*)\s*\(/.exec(line.trim());
      if (call && !PY_KEYWORDS.has(call[1])) {
        base = call[1].split('.').pop() ?? null;
        break;
      }
    }
  }
  const name = cleanName(base ?? 'step');
  if (!used.has(name)) {
    return name;
  }
  for (let i = 2; ; i++) {
    const candidate = `${name.slice(0, 60)}_${i}`;
    if (!used.has(candidate)) {
      return candidate;
    }
  }
}

/** The cell's source with `%%step NAME` as its first line (replacing an old step line). */
export function withStepLine(source: string, name: string): string {
  const text = source.replace(/^\n+/, '');
  if (stepLineText(text) !== null || text.startsWith(SCRATCH_MAGIC)) {
    const end = text.indexOf('\n');
    return `${STEP_MAGIC} ${name}` + (end < 0 ? '\n' : text.slice(end));
  }
  return `${STEP_MAGIC} ${name}\n${text}`;
}

/** Why a name cannot be a step name (or null when it can). */
export function invalidStepName(name: string, taken: Iterable<string> = []): string | null {
  if (!STEP_NAME_RE.test(name)) {
    return 'A step name starts with a letter or _ and has only letters, digits, _ and - (at most 64).';
  }
  for (const other of taken) {
    if (other === name) {
      return `There is already a step named ${JSON.stringify(name)} in this notebook.`;
    }
  }
  return null;
}
