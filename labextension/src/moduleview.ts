/**
 * How the side panel draws a module step (#16): the toggle in its node, the colour that marks
 * an open module's steps, and a collapsed module's details (each of its steps with its status).
 */

import { ILayoutModule, IStepRun } from './api';
import { el, svg, truncate } from './dom';
import { errorText } from './format';
import { aggregateStatus, moduleLabel, toggleTitle } from './modules';
import { DisplayStatus, formatDuration, stateLook } from './states';

/**
 * The colours that mark the steps of an open module, in hues no status uses (cyan, fuchsia, teal,
 * orange): the run panel's (`panel.js` moduleColour), so a module has the same colour in both.
 */
export const GROUP_COLOURS = ['#0891b2', '#c026d3', '#0f766e', '#ea580c'];

/** The colour of an open module's frame and its steps' frames: the same for the same name. */
export function groupColour(name: string): string {
  let hash = 0;
  for (const ch of name) {
    hash = (hash * 31 + (ch.codePointAt(0) ?? 0)) >>> 0;
  }
  return GROUP_COLOURS[hash % GROUP_COLOURS.length];
}

/** ▸ (expand) or ▾ (collapse) at x, y in a module's node; a click or Enter calls `flip` (and selects nothing). */
export function moduleToggle(module: ILayoutModule, x: number, y: number, flip: () => void): SVGElement {
  const title = toggleTitle(module);
  const toggle = svg('g', {
    class: 'mlps-module-toggle', 'data-role': 'module-toggle', 'data-expanded': String(module.expanded),
    role: 'button', tabindex: 0, 'aria-label': title, 'aria-expanded': String(module.expanded)
  },
  svg('title', {}, title),
  svg('rect', { x, y, width: 20, height: 20, rx: 4 }),
  svg('text', { x: x + 10, y: y + 15, 'text-anchor': 'middle', 'aria-hidden': 'true' }, module.expanded ? '▾' : '▸'));
  const onFlip = (event: Event): void => {
    event.stopPropagation();  // not a click on the node: it does not select it
    event.preventDefault();
    flip();
  };
  toggle.addEventListener('click', onFlip);
  toggle.addEventListener('pointerdown', (event: Event) => event.stopPropagation());  // no pan
  toggle.addEventListener('keydown', (event: Event) => {
    const key = (event as KeyboardEvent).key;
    if (key === 'Enter' || key === ' ') {
      onFlip(event);
    }
  });
  return toggle;
}

/** What a collapsed module's details read from the watched run, and what a click on one of its steps does. */
export interface IModuleDetailsHost {
  status(step: string): DisplayStatus;
  stepRun(step: string): IStepRun | undefined;
  /** Show a step hidden in the module (the module opens). */
  show(step: string): void;
}

/** A collapsed module's details: its aggregate status, its label, and each of its steps with its status. */
export function moduleDetails(name: string, module: ILayoutModule, order: readonly string[] | undefined,
  host: IModuleDetailsHost): HTMLElement {
  const look = stateLook(aggregateStatus(module.members, step => host.status(step), order));
  const list = el('ul', { class: 'mlps-module-members', 'data-role': 'module-members' });
  for (const member of module.members) {
    const memberLook = stateLook(host.status(member));
    const stepRun = host.stepRun(member);
    const duration = memberLook.status === 'reused' ? '' : formatDuration(stepRun?.duration ?? null);
    const binding = member === name;
    const item = el('li', {
      class: `mlps-module-member mlps-state-${memberLook.status}`, 'data-step': member, 'data-status': memberLook.status,
      tabindex: '0', role: 'button',
      title: binding ? "its parameters (the cell's assignments)" : `show ${member} in the graph`
    },
    el('span', { class: 'mlps-chip' }, `${memberLook.icon} ${memberLook.label}`),
    el('span', { class: 'mlps-module-member-name' }, binding ? `${member} (parameters)` : member),
    el('span', { class: 'mlps-muted' }, duration));
    item.addEventListener('click', () => host.show(member));
    item.addEventListener('keydown', (event: KeyboardEvent) => {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        host.show(member);
      }
    });
    list.appendChild(item);
    if (stepRun?.error) {  // a failed step's words, under it
      list.appendChild(el('pre', { class: 'mlps-error', 'data-role': 'step-error' }, truncate(errorText(stepRun.error), 2000)));
    }
  }
  const count = `${module.count} step${module.count === 1 ? '' : 's'}`;
  return el('div', { class: 'mlps-details', 'data-step': name, 'data-module': 'true' },
    el('div', { class: 'mlps-details-title' },
      el('span', { class: `mlps-chip mlps-state-${look.status}` }, `${look.icon} ${look.label}`), ` ${name}`),
    el('div', { class: 'mlps-muted' }, `module ${moduleLabel(module)}: ${count}`),
    list);
}
