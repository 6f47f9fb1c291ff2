/**
 * Step and run states: one colour, icon and label each. `jupyter_mlpipe/vocab.py`
 * defines them; the REST API sends them (`looks`, given to `setLooks`) and the
 * table below is what is shown until then (tests/test_vocab.py checks it agrees).
 */

export type Status =
  | 'pending'
  | 'running'
  | 'succeeded'
  | 'reused'
  | 'failed'
  | 'skipped'
  | 'cancelled';

/** A step that is in the plan but in no run yet. */
export type DisplayStatus = Status | 'notrun' | 'excluded';

export interface IStateLook {
  status: DisplayStatus;
  icon: string;
  label: string;
  /** CSS colour (a custom property with a fallback). */
  color: string;
}

export const STATUSES: readonly Status[] = [
  'pending',
  'running',
  'succeeded',
  'reused',
  'failed',
  'skipped',
  'cancelled'
];

/** A status's look as the server sends it. */
export interface ILook {
  icon: string;
  label: string;
  color: string;
}

export type ILooks = Record<string, ILook>;

const LOOKS: Record<DisplayStatus, [string, string, string]> = {
  pending: ['·', 'pending', '#8c959f'],
  running: ['▶', 'running', '#1f6feb'],
  succeeded: ['✓', 'succeeded', '#1a7f37'],
  reused: ['↺', 'reused', '#8250df'],
  failed: ['✗', 'failed', '#cf222e'],
  skipped: ['⤼', 'skipped', '#9a6700'],
  cancelled: ['■', 'cancelled', '#57606a'],
  notrun: ['○', 'not run yet', '#8c959f'],
  excluded: ['–', 'not in this run', '#afb8c1']
};

/** Take the looks the server sent (`vocab.looks_json()`) for the statuses this front end styles. */
export function setLooks(looks: ILooks | null | undefined): void {
  const text = (value: unknown, fallback: string): string =>
    typeof value === 'string' && value ? value : fallback;
  for (const [status, look] of Object.entries(looks ?? {})) {
    if (Object.prototype.hasOwnProperty.call(LOOKS, status) && look && typeof look === 'object') {
      const [icon, label, color] = LOOKS[status as DisplayStatus];
      LOOKS[status as DisplayStatus] = [text(look.icon, icon), text(look.label, label), text(look.color, color)];
    }
  }
}

/** The look of a status; an unknown status reads as itself with a `?`. */
export function stateLook(status: string | null | undefined): IStateLook {
  const key = (status ?? 'notrun') as DisplayStatus;
  const look = Object.prototype.hasOwnProperty.call(LOOKS, key) ? LOOKS[key] : undefined;
  if (!look) {
    return { status: 'excluded', icon: '?', label: String(status), color: LOOKS.excluded[2] };
  }
  const [icon, label, fallback] = look;
  return { status: key, icon, label, color: `var(--mlp-${key}, ${fallback})` };
}

/** A run (or step) that may still change. */
export function isActive(status: string | null | undefined): boolean {
  return status === 'pending' || status === 'running';
}

/** `850 ms`, `4.2 s`, `3 min 05 s`, `1 h 02 min`; empty when unknown. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) {
    return '';
  }
  if (seconds < 1) {
    return `${Math.round(seconds * 1000)} ms`;
  }
  if (seconds < 60) {
    return `${seconds.toFixed(1)} s`;
  }
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) {
    return `${minutes} min ${String(Math.floor(seconds % 60)).padStart(2, '0')} s`;
  }
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} min`;
}

/** `3 succeeded, 1 reused` from a run's step counts, in the order of STATUSES. */
export function countsText(counts: Record<string, number> | null | undefined): string {
  if (!counts) {
    return '';
  }
  return STATUSES.filter(s => counts[s])
    .map(s => `${stateLook(s).icon} ${counts[s]} ${s}`)
    .join(', ');
}
