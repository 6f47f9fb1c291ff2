/**
 * How the side panel draws the plan's graph (the server lays it out; this draws it): the edges
 * with what flows along them, and the nodes with their live status, a module's as one node or
 * framed in its colour. Split from panel.ts, which keeps the selection and answers the clicks.
 */

import { ILayout, ILayoutEdge, ILayoutNode, IStepRun } from './api';
import { onActivate, svg, truncate } from './dom';
import { reusedLabel } from './format';
import { aggregateStatus, moduleLabel } from './modules';
import { groupColour, moduleToggle } from './moduleview';
import { DisplayStatus, formatDuration, stateLook } from './states';

/** What the graph shows as chosen, what it reads of the watched run, and what a click on it does. */
export interface IGraphHost {
  /** The selected step: its node is outlined. */
  selected: string | null;
  /** The designer's chosen edge. */
  edge: { from: string; to: string } | null;
  /** The designer is there: an edge gets a wide stroke and a chip of what flows, to choose it. */
  edgesChoosable: boolean;
  status(step: string): DisplayStatus;
  stepRun(step: string): IStepRun | undefined;
  chooseStep(name: string): void;
  chooseEdge(edge: ILayoutEdge): void;
  /** Open or close a module. */
  toggleModule(name: string, open: boolean): void;
}

/** The graph at `zoom`: its arrow marker, its edges, its nodes. */
export function graphCanvas(graph: ILayout, zoom: number, host: IGraphHost): SVGElement {
  const canvas = svg('svg', {
    class: 'mlps-graph-svg',
    width: Math.round(graph.width * zoom),
    height: Math.round(graph.height * zoom),
    'data-zoom': zoom.toFixed(3),
    viewBox: `0 0 ${graph.width} ${graph.height}`,
    role: 'group',
    'aria-label': `pipeline graph, ${graph.nodes.length} steps`
  });
  const marker = svg('marker', {
    id: 'mlps-arrow', viewBox: '0 0 10 10', refX: 9, refY: 5,
    markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse'
  }, svg('path', { d: 'M0,0 L10,5 L0,10 z', class: 'mlps-arrow' }));
  canvas.appendChild(svg('defs', {}, marker));
  for (const edge of graph.edges) {
    canvas.appendChild(graphEdge(edge, host));
  }
  for (const node of graph.nodes) {
    canvas.appendChild(graphNode(node, graph, host));
  }
  return canvas;
}

/** An edge; with the designer, one to choose (what flows along it shows below the graph). */
function graphEdge(edge: ILayoutEdge, host: IGraphHost): SVGElement {
  const title = svg('title', {}, `${edge.from} → ${edge.to}: ${edge.variables.join(', ')}`);
  const chosen = host.edge?.from === edge.from && host.edge?.to === edge.to;
  const g = svg('g', { class: `mlps-edge${chosen ? ' mlps-selected' : ''}`, 'data-from': edge.from, 'data-to': edge.to },
    svg('path', { d: edge.path, 'marker-end': 'url(#mlps-arrow)' }), title);
  if (host.edgesChoosable && edge.variables.length) {
    // the designer: a wide invisible stroke and a chip of what flows, to click
    g.appendChild(svg('path', { d: edge.path, class: 'mlps-edge-hit' }));
    g.appendChild(edgeChip(edge));
    g.setAttribute('role', 'button');
    g.setAttribute('tabindex', '0');
    g.setAttribute('aria-label', `values from ${edge.from} to ${edge.to}: ${edge.variables.join(', ')}`);
    onActivate(g, () => host.chooseEdge(edge));
  }
  return g;
}

/** A step's node; a module step's: one node for all its steps (a toggle opens it), or its open binding node. */
function graphNode(node: ILayoutNode, graph: ILayout, host: IGraphHost): SVGElement {
  const module = node.module;
  const collapsed = !!module && !module.expanded;
  const status = collapsed
    ? aggregateStatus(module!.members, step => host.status(step), graph.status_order)
    : host.status(node.name);
  const look = stateLook(status);
  const stepRun = collapsed ? undefined : host.stepRun(node.name);
  // a reused step took no time in this run: it says which run it is reused from, as the run panel does
  const duration = status === 'reused' ? '' : formatDuration(stepRun?.duration ?? null);
  const label = status === 'reused' && !collapsed ? reusedLabel(look.label, stepRun?.from_run) : look.label;
  const gpus = node.num_gpus ? ` ×${node.num_gpus}` : '';
  // a collapsed module: its label (and version) as the second line, its status in the colour and icon
  const sub = collapsed
    ? moduleLabel(module!)
    : `${module ? moduleLabel(module) : node.compute + gpus} · ${label}${duration ? ' · ' + duration : ''}`;
  const title = collapsed
    ? `${node.name}: module ${moduleLabel(module!)}, ${module!.count} step${module!.count === 1 ? '' : 's'}: ${label}`
    : `${node.name} (${module ? 'module ' + moduleLabel(module) : node.compute + gpus}): ${label}${duration ? ', ' + duration : ''}` +
      (node.group ? ` (a step of module ${node.group})` : '');
  const { x, y, width: w, height: h } = node;
  const classes = ['mlps-node', `mlps-state-${status}`];
  if (host.selected === node.name) {
    classes.push('mlps-selected');
  }
  if (collapsed) {
    classes.push('mlps-module');
  } else if (module) {
    classes.push('mlps-module-open');
  }
  if (node.group) {
    classes.push('mlps-member');
  }
  const g = svg('g', {
    class: classes.join(' '),
    tabindex: 0,
    role: 'button',
    'data-step': node.name,
    'data-status': status,
    'aria-label': collapsed ? `module ${node.name} (${module!.count} steps): ${look.label}` : `step ${node.name}: ${look.label}`
  });
  // an open module and its steps: framed in the module's colour, so a person sees which steps are its
  const group = module?.expanded ? node.name : node.group;
  if (group) {
    g.setAttribute('data-group', group);
    g.setAttribute('style', `--mlps-group: ${groupColour(group)}`);
    g.appendChild(svg('rect', { class: 'mlps-group-frame', x: x - 3, y: y - 3, width: w + 6, height: h + 6, rx: 7 }));
  }
  if (collapsed) {  // a stack of cards: more than one step behind this node
    g.appendChild(svg('rect', { class: 'mlps-stack', x: x + 4, y: y + 4, width: w, height: h, rx: 5 }));
  }
  g.append(
    svg('title', {}, title),
    svg('rect', { class: 'mlps-box', x, y, width: w, height: h, rx: 5 }),
    svg('rect', { class: 'mlps-band', x: x + 1, y: y + 1, width: 5, height: h - 2, rx: 2 }),
    svg('text', { x: x + 15, y: y + 21, class: 'mlps-icon', 'text-anchor': 'middle', 'aria-hidden': 'true' }, look.icon),
    svg('text', { x: x + 26, y: y + 21, class: 'mlps-name' }, truncate(node.name, module ? 15 : 19)),
    svg('text', { x: x + 26, y: y + 39, class: collapsed ? 'mlps-sub mlps-module-label' : 'mlps-sub' }, truncate(sub, 22)));
  if (module) {
    g.appendChild(moduleToggle(module, x + w - 24, y + 4, () => host.toggleModule(node.name, !module.expanded)));
  }
  onActivate(g, () => host.chooseStep(node.name));
  return g;
}

/** The chip in the middle of an edge: its one variable, or how many (12 px: never under 11 px on screen). */
function edgeChip(edge: ILayoutEdge): SVGElement {
  const pts = edge.points;
  const [a, b] = [pts[Math.floor((pts.length - 1) / 2)], pts[Math.ceil((pts.length - 1) / 2)]];
  const [x, y] = [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2];
  const text = edge.variables.length === 1 ? truncate(edge.variables[0], 14) : `${edge.variables.length} values`;
  const w = text.length * 7 + 12;
  return svg('g', { class: 'mlps-edge-chip' },
    svg('rect', { x: x - w / 2, y: y - 9, width: w, height: 18, rx: 9 }),
    svg('text', { x, y: y + 4, 'text-anchor': 'middle' }, text));
}
