/**
 * Module steps (`%%step NAME --module SOURCE`, #16) in the side panel and the badges: a module is
 * drawn as one node until a person opens it, with the status of its members that matters most
 * (the first of the layout's `status_order` that any member has). Pure functions and the set of
 * open modules, without the DOM (tested with Jest).
 */

import type { ILayout, ILayoutModule, IPlan, IRunDetail } from './api';
import { DisplayStatus, isActive, stateLook } from './states';

/** `plan?path=NB`, with `&expand=a,b` when modules are open. */
export function planEndpoint(path: string, expand: readonly string[] = []): string {
  return 'plan' + query(path, expand);
}

/** `runs/ID?path=NB`, with `&plan=true` (and the open modules) when the run's plan is wanted. */
export function runEndpoint(path: string, id: string, options: { plan?: boolean; expand?: readonly string[] } = {}): string {
  let url = `runs/${encodeURIComponent(id)}?path=${encodeURIComponent(path)}`;
  if (options.plan) {
    url += '&plan=true' + (options.expand?.length ? `&expand=${encodeURIComponent(options.expand.join(','))}` : '');
  }
  return url;
}

function query(path: string, expand: readonly string[]): string {
  const open = expand.length ? `&expand=${encodeURIComponent(expand.join(','))}` : '';
  return `?path=${encodeURIComponent(path)}${open}`;
}

/** The status a step shows for the watched run: its own, pending (the run goes on), not in it, not run. */
export function runStepStatus(run: IRunDetail | null | undefined, step: string): DisplayStatus {
  if (!run) {
    return 'notrun';
  }
  const stepRun = run.steps?.[step];
  if (stepRun) {
    return stateLook(stepRun.status).status;
  }
  return isActive(run.status) ? 'pending' : 'excluded';
}

/**
 * A collapsed module's status: the first status of `order` that any member has (the binding node
 * only when it did not succeed). Without an order
 * (an older server), or when no member has one of its statuses (nothing ran yet), the binding
 * node's: the first member's.
 */
export function aggregateStatus(
  members: readonly string[],
  statusOf: (step: string) => DisplayStatus,
  order: readonly string[] | null | undefined
): DisplayStatus {
  if (!members.length) {
    return 'notrun';
  }
  // the binding node (members[0]) runs no task: its `succeeded` would hide that every step was reused,
  // so it counts only when it did not succeed (as panel.js's moduleStatus; docs/modules.md)
  const counted = members.length > 1 && statusOf(members[0]) === 'succeeded' ? members.slice(1) : members;
  const statuses = new Set(counted.map(statusOf));
  for (const status of order ?? []) {
    if (statuses.has(status as DisplayStatus)) {
      return status as DisplayStatus;
    }
  }
  return statusOf(members[0]);
}

/** The layout's status order (the server's one list, `vocab.py`): top to bottom's, else left to right's. */
export function statusOrder(plan: IPlan | null | undefined): string[] | undefined {
  return plan?.layouts?.TB?.status_order ?? plan?.layouts?.LR?.status_order;
}

/** The steps a module step stands for, its binding node first (null: `name` is no module step). */
export function moduleMembers(plan: IPlan | null | undefined, name: string): string[] | null {
  const module = plan?.modules?.[name];
  return module && Array.isArray(module.steps) && module.steps.length ? module.steps : null;
}

/**
 * The status a module step shows as one node (its badge, its collapsed node): its members'
 * aggregate; a step that is not a module: its own.
 */
export function moduleStatus(plan: IPlan | null | undefined, run: IRunDetail | null | undefined, name: string,
  members?: readonly string[]): DisplayStatus {
  const steps = members ?? moduleMembers(plan, name);
  if (!steps) {
    return runStepStatus(run, name);
  }
  return aggregateStatus(steps, step => runStepStatus(run, step), statusOrder(plan));
}

/** `lib/features.ipynb v3` (no version: the label alone). */
export function moduleLabel(module: Pick<ILayoutModule, 'label' | 'version'>): string {
  return module.version !== null && module.version !== undefined ? `${module.label} v${module.version}` : module.label;
}

/** The toggle's words: what a click does. */
export function toggleTitle(module: ILayoutModule): string {
  const steps = `${module.count} step${module.count === 1 ? '' : 's'} of ${moduleLabel(module)}`;
  return module.expanded ? `collapse: show ${steps} as one node` : `expand: ${steps}`;
}

/** The names of the module steps of a layout that contain `step` (outermost first), among `modules`. */
export function enclosingModules(step: string, modules: Iterable<string>): string[] {
  const known = new Set(modules);
  const parts = step.split('.');
  const out: string[] = [];
  for (let i = 1; i < parts.length; i++) {
    const name = parts.slice(0, i).join('.');
    if (known.has(name)) {
      out.push(name);
    }
  }
  return out;
}

/** The drawn node that stands for `step` in `layout`: its own, else the collapsed module it is hidden in. */
export function drawnNodeOf(layout: ILayout | null | undefined, step: string): string | null {
  if (!layout) {
    return null;
  }
  if (layout.nodes.some(n => n.name === step)) {
    return step;
  }
  const holder = layout.nodes.find(n => n.module && !n.module.expanded && n.module.members.includes(step));
  return holder ? holder.name : null;
}

/**
 * The module steps a person opened in one notebook's graph. Opening a nested module opens the
 * modules around it; closing one closes those inside it (opened again, it shows them collapsed).
 */
export class ExpandSet {
  /** Whether `name` is open. */
  has(name: string): boolean {
    return this._open.has(name);
  }

  /** The open modules, sorted (what the server is asked for). */
  names(): string[] {
    return [...this._open].sort();
  }

  /** Open or close `name` (toggle when `open` is not given); true when the set changed. */
  set(name: string, open: boolean = !this._open.has(name)): boolean {
    const before = this.names().join(',');
    if (open) {
      const parts = name.split('.');
      for (let i = 1; i <= parts.length; i++) {
        this._open.add(parts.slice(0, i).join('.'));
      }
    } else {
      for (const other of [...this._open]) {
        if (other === name || other.startsWith(name + '.')) {
          this._open.delete(other);
        }
      }
    }
    return this.names().join(',') !== before;
  }

  /** Open the modules a step is hidden in (`modules`: the plan's module names); true when the set changed. */
  reveal(step: string, modules: Iterable<string>): boolean {
    let changed = false;
    for (const name of enclosingModules(step, modules)) {
      if (!this._open.has(name)) {
        this._open.add(name);
        changed = true;
      }
    }
    return changed;
  }

  /** Forget names that are no module of the plan any more (a step renamed, a module removed). */
  prune(modules: Iterable<string>): boolean {
    const known = new Set(modules);
    let changed = false;
    for (const name of [...this._open]) {
      if (!known.has(name)) {
        this._open.delete(name);
        changed = true;
      }
    }
    return changed;
  }

  private _open = new Set<string>();
}
