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
 * What a cell does, by the calls it makes: the first rule that matches names the step.
 * Ordered by what a cell is about when it does several things (a cell that fits a model
 * and scores it is `train`; one that only scores is `evaluate`).
 */
const ACTIONS: [RegExp, string][] = [
  // a model's fit takes the data and the labels (`.fit(X, y)`); a scaler's `.fit(X)` prepares features
  [/\.(fit|partial_fit)\s*\([^,()]+,|\.train\s*\(|\bcross_val(_score|idate)\s*\(|\bGridSearchCV\s*\(/, 'train'],
  [/\.fit_transform\s*\(|\bget_dummies\s*\(|\b(StandardScaler|MinMaxScaler|OneHotEncoder|PolynomialFeatures|TfidfVectorizer|CountVectorizer)\s*\(/, 'features'],
  [/\btrain_test_split\s*\(|\bKFold\s*\(|\.sample\s*\(\s*frac/, 'split'],
  [/\b(accuracy|f1|precision|recall|roc_auc|r2|log_loss)_score\s*\(|\bmean_(squared|absolute)_error\s*\(|\bclassification_report\s*\(|\bconfusion_matrix\s*\(|\.score\s*\(|\.evaluate\s*\(/, 'evaluate'],
  [/\.predict(_proba)?\s*\(/, 'predict'],
  [/\.read_(csv|parquet|json|excel|sql|table|feather|pickle)\s*\(|\bload_(dataset|iris|digits|wine|breast_cancer|diabetes)\s*\(|\bfetch_\w+\s*\(|\bmake_(classification|regression|blobs|moons)\s*\(/, 'load'],
  [/\.(dropna|fillna|drop_duplicates)\s*\(/, 'clean'],
  [/\.(merge|join|groupby|pivot_table|concat)\s*\(|\bpd\.concat\s*\(/, 'transform'],
  [/\bplt\.|\.plot\s*\(|\bsns\.|\bpx\./, 'plot'],
  [/\.to_(csv|parquet|json|excel|pickle)\s*\(|\b(joblib|pickle)\.dump\s*\(|\.save(_model)?\s*\(/, 'save']
];

/** Names that say nothing about a step: short data names, generic results, builtins. */
const VAGUE = new Set([
  'df', 'data', 'tmp', 'temp', 'res', 'result', 'results', 'out', 'output', 'val', 'value', 'values', 'arr', 'obj',
  'item', 'items', 'idx', 'i', 'j', 'k', 'n', 'x', 'y', 'X', 'Y', 'print', 'len', 'range', 'list', 'dict', 'set',
  'tuple', 'sorted', 'str', 'int', 'float', 'display', 'zip', 'enumerate', 'open', 'isinstance', 'sum', 'min', 'max'
]);

function descriptive(name: string): boolean {
  return name.length >= 3 && !VAGUE.has(name) && !PY_KEYWORDS.has(name) && !/^_/.test(name);
}

/**
 * A step name from what a cell computes, as a person would name it:
 * 1. what its calls do: `train` (`model.fit(X, y)`), `features`, `split`, `evaluate`, `predict`,
 *    `load`, `clean`, `transform`, `plot`, `save` (`ACTIONS`);
 * 2. a function it calls at top level (`model = train_model(X, y)`);
 * 3. a descriptive name it assigns at top level (`model = ...`; not `X`, `df`, `tmp`), and
 *    `features` for a cell that makes `X`;
 * 4. a function or class it defines; then any name it assigns; else `step`.
 * Names in `taken` are avoided (`name_2`, `name_3`, ...).
 */
export function suggestStepName(code: string, taken: Iterable<string> = []): string {
  const used = new Set(taken);
  const lines = code.split('\n').filter(l => !/^\s*(%|#|!)/.test(l));
  const topLevel = lines.filter(l => !/^\s/.test(l));
  const text = lines.join('\n');
  const assigned: string[] = [];
  for (const line of topLevel) {
    const assign = /^\(?\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:,[^=]*)?\)?\s*(?::[^=]+)?(?:[-+*/%|&^@]|\*\*|\/\/)?=(?!=)/.exec(line);
    if (assign && !PY_KEYWORDS.has(assign[1])) {
      assigned.push(assign[1]);
    }
  }
  const defined = new Set<string>();
  for (const line of lines) {
    const def = /^(?:async\s+)?(?:def|class)\s+([A-Za-z_][A-Za-z0-9_]*)/.exec(line.trim());
    if (def) {
      defined.add(def[1]);
    }
  }
  // 1. what its calls do
  let base: string | null = ACTIONS.find(([pattern]) => pattern.test(text))?.[1] ?? null;
  // 2. a function called (not defined) here: `model = train_model(X, y)`
  for (const line of base ? [] : topLevel) {
    const call = /(?:^|=\s*|^return\s+)([A-Za-z_][A-Za-z0-9_]*)\s*\(/.exec(line.trim());
    if (call && descriptive(call[1]) && /[a-z]/.test(call[1]) && !/^[A-Z]/.test(call[1]) && !defined.has(call[1])) {
      base = call[1];
      break;
    }
  }
  // 3. a descriptive name it assigns (`X`, the usual name of a feature matrix: `features`)
  base = base ?? assigned.find(descriptive) ?? (assigned.some(n => /^X(_|$)/.test(n)) ? 'features' : null);
  // 4. a function or class it defines; then any name it assigns
  base = base ?? [...defined][0] ?? assigned[0] ?? null;
  if (!base) {
    for (const line of topLevel) {
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
