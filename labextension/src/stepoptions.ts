/**
 * The designer form's side of a `%%step` line (pure): read the options the form edits, and
 * rewrite one of them in place, leaving every other flag, its quoting and spacing, and a
 * trailing comment as written. Whether the new line is valid is for the planner's parser
 * (`GET stepline`, `jupyter_mlpipe/plan/options.py`) to say.
 */

import { STEP_MAGIC, stepLineText } from './stepline';

/** The options the form edits, by their flag. */
export type FormFlag =
  | '--compute'
  | '--gpus'
  | '--cpus'
  | '--memory'
  | '--retries'
  | '--timeout'
  | '--no-cache'
  | '--env';

export interface IFormField {
  flag: FormFlag;
  label: string;
  /** A value of a flag (empty: the flag is left out); a switch is on or off. */
  kind: 'text' | 'number' | 'switch';
  placeholder: string;
  title: string;
}

/** The form, in order. */
export const FORM_FIELDS: readonly IFormField[] = [
  { flag: '--compute', label: 'Compute', kind: 'text', placeholder: 'cpu', title: 'cpu, gpu or a [compute.NAME] of mlpipe.toml' },
  { flag: '--gpus', label: 'GPUs', kind: 'number', placeholder: '0', title: 'GPUs (fractions below 1 allowed, e.g. 0.5)' },
  { flag: '--cpus', label: 'CPUs', kind: 'number', placeholder: '1', title: 'CPUs (fractions below 1 allowed; 0 reserves none)' },
  { flag: '--memory', label: 'Memory', kind: 'text', placeholder: '4GB', title: 'memory, e.g. 4GB, 512MB or 2GiB' },
  { flag: '--retries', label: 'Retries', kind: 'number', placeholder: '0', title: 'retry when the worker process dies' },
  { flag: '--timeout', label: 'Timeout (s)', kind: 'number', placeholder: 'none', title: 'fail the step if it runs longer (seconds)' },
  { flag: '--env', label: 'Environment', kind: 'text', placeholder: 'none', title: 'an [env.NAME] of mlpipe.toml' },
  { flag: '--no-cache', label: 'No cache', kind: 'switch', placeholder: '', title: 'always run this step' }
];

/** A word of the line: its value (quotes removed) and where it is in the line. */
export interface IToken {
  value: string;
  start: number;
  end: number;
}

/** The words of `line` (as shlex splits them, with `#` comments) and where a comment starts. */
export function tokenize(line: string): { tokens: IToken[]; comment: number } {
  const tokens: IToken[] = [];
  let value = '';
  let start = -1;
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quote) {
      if (ch === quote) {
        quote = null;
      } else {
        value += ch;
      }
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      start = start < 0 ? i : start;
    } else if (ch === '#' && start < 0) {
      return { tokens, comment: i };
    } else if (/\s/.test(ch)) {
      if (start >= 0) {
        tokens.push({ value, start, end: i });
        value = '';
        start = -1;
      }
    } else {
      value += ch;
      start = start < 0 ? i : start;
    }
  }
  if (start >= 0) {
    tokens.push({ value, start, end: line.length });
  }
  return { tokens, comment: line.length };
}

/** A value as the shell would need it: bare when it is plain, else in single quotes. */
export function quote(value: string): string {
  if (value !== '' && /^[A-Za-z0-9@%+=:,./_-]+$/.test(value)) {
    return value;
  }
  return "'" + value.replace(/'/g, `'"'"'`) + "'";
}

/** Where each occurrence of `flag` is: the flag word, and its value word (or `--flag=value`). */
interface IOccurrence {
  start: number;
  end: number;
  value: string;
  /** Where the value is written (its span), when it is a separate word. */
  valueToken: IToken | null;
  joined: boolean;
}

function occurrences(tokens: IToken[], flag: string, takesValue: boolean): IOccurrence[] {
  const found: IOccurrence[] = [];
  for (let i = 1; i < tokens.length; i++) {
    const t = tokens[i];
    if (t.value === flag) {
      const next = takesValue && i + 1 < tokens.length ? tokens[i + 1] : null;
      found.push({ start: t.start, end: next ? next.end : t.end, value: next ? next.value : '', valueToken: next, joined: false });
      if (next) {
        i++;
      }
    } else if (takesValue && t.value.startsWith(flag + '=')) {
      found.push({ start: t.start, end: t.end, value: t.value.slice(flag.length + 1), valueToken: null, joined: true });
    }
  }
  return found;
}

/** The form's values of the text after `%%step` (the last occurrence wins, as in argparse). */
export function formValues(line: string): Record<FormFlag, string> {
  const { tokens } = tokenize(line);
  const out = {} as Record<FormFlag, string>;
  for (const field of FORM_FIELDS) {
    const found = occurrences(tokens, field.flag, field.kind !== 'switch');
    out[field.flag] = field.kind === 'switch' ? (found.length ? 'true' : '') : (found.length ? found[found.length - 1].value : '');
  }
  return out;
}

/**
 * The text after `%%step` with `flag` set to `value` (a switch: any non-empty value turns it on;
 * an empty value removes the flag). The last occurrence is rewritten where it stands, earlier
 * ones are removed; a new flag goes after the last word, before a comment. Nothing else changes.
 */
export function setOption(line: string, flag: FormFlag, value: string): string {
  const field = FORM_FIELDS.find(f => f.flag === flag);
  const isSwitch = field?.kind === 'switch';
  const { tokens } = tokenize(line);
  const found = occurrences(tokens, flag, !isSwitch);
  const wanted = value.trim();
  const edits: { start: number; end: number; text: string }[] = [];
  // a removed occurrence takes the blank before it along
  const removal = (o: IOccurrence) => {
    let start = o.start;
    while (start > 0 && /[ \t]/.test(line[start - 1])) {
      start--;
    }
    return { start, end: o.end, text: '' };
  };
  const keep = wanted !== '' ? found[found.length - 1] : undefined;
  for (const o of found) {
    if (o !== keep) {
      edits.push(removal(o));
    }
  }
  if (wanted !== '' && !isSwitch) {
    const text = quote(wanted);
    if (keep && keep.joined) {
      edits.push({ start: keep.start, end: keep.end, text: `${flag}=${text}` });
    } else if (keep && keep.valueToken) {
      edits.push({ start: keep.valueToken.start, end: keep.valueToken.end, text });
    } else if (keep) {  // `--gpus` at the end of the line with no value
      edits.push({ start: keep.end, end: keep.end, text: ` ${text}` });
    }
  }
  let out = line;
  for (const e of edits.sort((a, b) => b.start - a.start)) {
    out = out.slice(0, e.start) + e.text + out.slice(e.end);
  }
  if (wanted !== '' && !keep) {
    // after the last word (nothing was removed: the flag was not there), before a comment
    const at = tokens.length ? tokens[tokens.length - 1].end : 0;
    const add = isSwitch ? flag : `${flag} ${quote(wanted)}`;
    const rest = out.slice(at);
    out = out.slice(0, at) + (at > 0 ? ' ' : '') + add + (rest && !/^\s/.test(rest) ? ' ' : '') + rest;
  }
  return out;
}

/** A cell's source with its `%%step` line replaced by `%%step TEXT` (leading blank lines kept). */
export function withLineText(source: string, text: string): string {
  const lead = /^\n*/.exec(source)![0];
  const body = source.slice(lead.length);
  if (stepLineText(body) === null) {
    throw new Error('This cell does not start with a %%step line.');
  }
  const end = body.indexOf('\n');
  return lead + `${STEP_MAGIC} ${text}`.replace(/\s+$/, '') + (end < 0 ? '' : body.slice(end));
}
