/**
 * The pipeline side panel: the graph of the current notebook's plan with live
 * states, the selected step's details, and the recent runs.
 */

import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { ILayout, ILayoutEdge, ILayoutNode, IPlan, IRunSummary } from './api';
import { IDesignerHost, flowDetails, stepForm } from './designer';
import { PipelineModel } from './model';
import { ChartSet, restMetrics, stepChartSpecs } from './chart';
import { badgeStatus } from './badges';
import { errorText, reusedLabel, shortRunId } from './format';
import { el, svg, truncate } from './dom';
import { aggregateStatus, drawnNodeOf, moduleLabel } from './modules';
import { groupColour, moduleDetails, moduleToggle } from './moduleview';
import { countsText, formatDuration, isActive, stateLook } from './states';
import { MAX_ZOOM, MIN_TEXT, MIN_ZOOM, ZOOM_STEP, clampZoom, fitZoom, revealScroll } from './zoom';

/** What "Debug in kernel" shows while the kernel loads the step's inputs. */
const LOADING = 'loading its inputs into the kernel…';

export interface IPanelActions {
  /** Scroll to and select the first cell of a step. */
  selectStep(name: string): void;
  /**
   * Open the executed notebook of `step` in run `run` of the pipeline notebook
   * `notebook` (a path from the server root); it is served by the REST API.
   */
  openNotebook(notebook: string, run: string, step: string): void;
  /** Run the pipeline (saving the notebook first). */
  run(): void;
  /**
   * Run `%pipeline debug STEP --run RUN` in the notebook's kernel (the values the
   * step received in that run, put into the kernel); resolves to what it printed.
   */
  debugStep?(name: string, run: string): Promise<string>;
  /**
   * Put a run's results into the notebook's kernel (`%pipeline load RUN`): a run started
   * here runs on the server, so its values are not in the kernel; resolves to what it printed.
   */
  loadRun?(run: string): Promise<string>;
  /** The designer (designer.ts): the step form, the design actions, what flows along an edge. */
  designer?: IDesignerHost;
}

function when(value: number | string | null | undefined): string {
  if (value === null || value === undefined || value === '') {
    return '';
  }
  const date = typeof value === 'number' ? new Date(value * 1000) : new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleTimeString();
}

export class PipelinePanel extends Widget {
  constructor(private _actions: IPanelActions) {
    super();
    this.id = 'mlpipe-side-panel';
    this.addClass('mlps-panel');
    this.title.caption = 'Pipeline (jupyter-mlpipe)';
    this.title.label = 'Pipeline';
    this.node.tabIndex = -1;
    this._render();
  }

  /** The model of the current notebook, or null when no notebook is current. */
  get model(): PipelineModel | null {
    return this._model;
  }
  set model(value: PipelineModel | null) {
    if (value === this._model) {
      return;
    }
    this._model?.changed.disconnect(this._render, this);
    this._model = value;
    this._selected = null;
    this._edge = null;
    this._variable = null;
    value?.changed.connect(this._render, this);
    this._render();
  }

  /** Mark a step as selected (its node gets an outline and its details show, and it is scrolled into view). */
  select(name: string | null): void {
    this._selected = name;
    this._reveal = name;
    this._render();
  }

  dispose(): void {
    this._model?.changed.disconnect(this._render, this);
    this._charts.dispose();
    super.dispose();
  }

  /** The notebook's cells changed: the designer's form shows their `%%step` lines again (soon, once). */
  designChanged(): void {
    if (this._designTimer === null) {
      this._designTimer = window.setTimeout(() => {
        this._designTimer = null;
        this._render();
      }, 250);
    }
  }


  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._render();
  }

  protected onResize(msg: Widget.ResizeMessage): void {
    super.onResize(msg);
    if (this._zoomAuto && this._model?.plan) {  // a fitted graph is fitted to the new width
      this._render();
    }
  }

  private _render(): void {
    // never redraw under a person typing in the designer's form: once they leave it
    const active = document.activeElement;
    if (active && active.closest('.mlps-design-form') && this.node.contains(active)) {
      if (!this._designWait) {
        this._designWait = true;
        active.addEventListener('blur', () => {
          this._designWait = false;
          window.setTimeout(() => this._render(), 0);
        }, { once: true });
      }
      return;
    }
    // the graph's pan survives the re-render (the panel is drawn again at every poll while a run goes)
    const oldGraph = this.node.querySelector('.mlps-graph') as HTMLElement | null;
    if (oldGraph) {
      this._scroll = { left: oldGraph.scrollLeft, top: oldGraph.scrollTop };
    }
    this._draw();
    const graph = this.node.querySelector('.mlps-graph') as HTMLElement | null;
    if (graph) {
      let scroll = this._scroll;
      // a step hidden in a collapsed module: its module's node
      const shown = this._reveal ? drawnNodeOf(this._graphLayout, this._reveal) : null;
      const node = shown ? this._graphLayout?.nodes.find(n => n.name === shown) : undefined;
      if (node) {
        scroll = revealScroll(node, this._zoom, scroll, { width: graph.clientWidth, height: graph.clientHeight });
      }
      graph.scrollLeft = scroll.left;
      graph.scrollTop = scroll.top;
      this._scroll = { left: graph.scrollLeft, top: graph.scrollTop };
    }
    this._reveal = null;
    if (this._focusToggle !== null) {
      const toggle = this.node.querySelector(
        `g[data-step="${CSS.escape(this._focusToggle)}"] [data-role="module-toggle"]`) as SVGElement | null;
      toggle?.focus();
      this._focusToggle = null;
    }
  }

  private _draw(): void {
    const model = this._model;
    const parts: Node[] = [];
    if (!model) {
      parts.push(el('div', { class: 'mlps-empty' }, 'Open a notebook to see its pipeline.'));
      this.node.replaceChildren(...parts);
      return;
    }
    const name = model.path.split('/').pop() ?? model.path;
    const run = model.run;
    const runButton = el('button', { class: 'jp-mod-styled jp-mod-accept mlps-run-button', type: 'button' }, '▶ Run pipeline');
    runButton.addEventListener('click', () => this._actions.run());
    if (run && isActive(run.status)) {
      runButton.setAttribute('disabled', 'true');
    }
    const refresh = el('button', { class: 'jp-mod-styled mlps-refresh', type: 'button', title: 'Re-read the plan and the runs' }, '⟳');
    refresh.addEventListener('click', () => void model.refresh());
    parts.push(
      el('div', { class: 'mlps-header' },
        el('span', { class: 'mlps-title', title: model.path }, `Pipeline · ${name}`),
        el('span', { class: 'mlps-spacer' }), refresh, runButton)
    );
    if (run) {
      const look = stateLook(run.status);
      const counts: Record<string, number> = {};
      for (const step of Object.values(run.steps ?? {})) {
        counts[step.status] = (counts[step.status] ?? 0) + 1;
      }
      const line = el('div', { class: `mlps-runline mlps-state-${look.status}`, 'data-mlp-run': run.id, 'data-mlp-status': run.status },
        el('span', { class: 'mlps-chip' }, `${look.icon} ${look.label}`),
        ` run ${run.id} `,
        el('span', { class: 'mlps-muted' }, countsText(counts)));
      if (run.connecting && isActive(run.status)) {  // "starting Ray (first run in this session)…", as the run panel
        line.appendChild(el('div', { class: 'mlps-muted mlps-connecting', 'data-role': 'connecting' }, run.connecting));
      }
      line.appendChild(this._runActions(run.id, isActive(run.status), model));
      const said = this._said.get(run.id);
      if (said) {
        line.appendChild(el('pre', { class: 'mlps-said', 'data-role': 'run-output' }, said));
      }
      parts.push(line);
    }
    if (model.planError) {
      const error = model.planError;
      parts.push(
        el('div', { class: 'mlps-plan-error', role: 'alert' },
          el('strong', {}, 'The plan has a problem: '), error.message,
          ...(error.hint ? [el('div', { class: 'mlps-muted' }, error.hint)] : []))
      );
    }
    const plan = model.plan;
    if (plan) {
      if (!plan.steps.length) {
        parts.push(el('div', { class: 'mlps-empty' }, 'No steps yet: start a cell with %%step NAME (or use "mlpipe: Make this cell a step").'));
      } else {
        const graph = this._pickLayout(plan);
        parts.push(
          graph
            ? this._graph(graph, model)
            : el('div', { class: 'mlps-empty' }, 'The server sent no graph layout: restart Jupyter after updating jupyter-mlpipe.')
        );
      }
      for (const warning of plan.warnings ?? []) {
        parts.push(el('div', { class: 'mlps-warning' }, `⚠ ${warning}`));
      }
    } else if (!model.planError) {
      parts.push(el('div', { class: 'mlps-empty' }, 'Reading the plan…'));
    }
    if (this._selected && plan?.steps.some(s => s.name === this._selected)) {
      parts.push(this._details(this._selected, model));
      // a module step's options belong to the module's own steps (refused on its line): no form
      const isModule = !!plan?.modules?.[this._selected] || !!plan?.steps.find(s => s.name === this._selected)?.scope;
      const form = this._actions.designer && !isModule ? stepForm(this._actions.designer, this._selected, this._designSaid) : null;
      if (form) {
        parts.push(form);
      }
    } else if (this._edge && this._actions.designer) {
      const edge = this._graphLayout?.edges.find(e => e.from === this._edge!.from && e.to === this._edge!.to);
      if (edge) {
        parts.push(flowDetails(this._actions.designer, edge, plan?.flows ?? [], model.stepRun(edge.from), this._variable,
          variable => this._chooseVariable(variable)));
      }
    }
    parts.push(this._runsList(model.runs, model));
    this.node.replaceChildren(...parts);
  }

  /**
   * The server's layout to draw: top to bottom, always (a sidebar is narrow and tall; a
   * fan-out laid out left to right is wider than the panel, so one node showed).
   */
  private _pickLayout(plan: IPlan): ILayout | null {
    const tb = plan.layouts?.TB;
    if (!tb) {
      return null;
    }
    return tb;
  }

  /** The room the graph has: the panel's width less the graph box's padding (0 while hidden). */
  private _room(): number {
    return Math.max(0, this.node.clientWidth - 10);
  }

  /** Zoom to `zoom` around the middle of the graph's view (`null`: fit it again). */
  private _zoomTo(zoom: number | null): void {
    const view = this.node.querySelector('.mlps-graph') as HTMLElement | null;
    const old = this._zoom;
    this._zoomAuto = zoom === null;
    const next = zoom === null ? fitZoom(this._graphLayout?.width ?? 0, this._room()) : clampZoom(zoom);
    if (view) {
      const [cx, cy] = [view.clientWidth / 2, view.clientHeight / 2];
      this._scroll = zoom === null
        ? { left: 0, top: 0 }
        : { left: ((view.scrollLeft + cx) / old) * next - cx, top: ((view.scrollTop + cy) / old) * next - cy };
    }
    this._zoom = next;
    this._reveal = this._selected;
    this._render();
  }

  /** −, the zoom level, +, fit: text never under MIN_TEXT px; what does not fit pans (drag, scroll). */
  private _zoomTools(): HTMLElement {
    const button = (role: string, label: string, title: string, onClick: () => void, disabled: boolean): HTMLElement => {
      const b = el('button', { class: 'jp-mod-styled mlps-zoom-button', type: 'button', 'data-role': role, title }, label);
      if (disabled) {
        b.setAttribute('disabled', 'true');
      }
      b.addEventListener('click', onClick);
      return b;
    };
    return el('div', { class: 'mlps-zoom', role: 'group', 'aria-label': 'zoom' },
      button('zoom-out', '−', `Zoom out (text stays at least ${MIN_TEXT} px)`,
        () => this._zoomTo(this._zoom / ZOOM_STEP), this._zoom <= MIN_ZOOM + 1e-3),
      el('span', { class: 'mlps-zoom-level', 'data-role': 'zoom-level', title: 'Ctrl + wheel zooms, drag pans' },
        `${Math.round(this._zoom * 100)}%`),
      button('zoom-in', '+', 'Zoom in', () => this._zoomTo(this._zoom * ZOOM_STEP), this._zoom >= MAX_ZOOM - 1e-3),
      button('fit', 'fit', `Fit the graph to the panel (text stays at least ${MIN_TEXT} px: drag or scroll to see the rest)`,
        () => this._zoomTo(null), false));
  }

  /** Drag to pan (a click without moving still selects a step); Ctrl/⌘ + wheel zooms. */
  private _panAndZoom(view: HTMLElement): void {
    let drag: { id: number; x: number; y: number; left: number; top: number; moved: boolean } | null = null;
    let dragged = false;
    view.addEventListener('pointerdown', (event: PointerEvent) => {
      if (event.button === 0) {
        drag = { id: event.pointerId, x: event.clientX, y: event.clientY, left: view.scrollLeft, top: view.scrollTop, moved: false };
      }
    });
    view.addEventListener('pointermove', (event: PointerEvent) => {
      if (!drag || event.pointerId !== drag.id) {
        return;
      }
      const [dx, dy] = [event.clientX - drag.x, event.clientY - drag.y];
      if (!drag.moved && Math.abs(dx) + Math.abs(dy) < 5) {
        return;
      }
      if (!drag.moved) {
        drag.moved = true;
        view.classList.add('mlps-dragging');
        view.setPointerCapture?.(event.pointerId);
      }
      view.scrollLeft = drag.left - dx;
      view.scrollTop = drag.top - dy;
    });
    const end = (): void => {
      dragged = !!drag?.moved;
      drag = null;
      view.classList.remove('mlps-dragging');
      this._scroll = { left: view.scrollLeft, top: view.scrollTop };
    };
    view.addEventListener('pointerup', end);
    view.addEventListener('pointercancel', end);
    view.addEventListener('click', (event: Event) => {
      if (dragged) {  // the click that ends a drag selects nothing
        event.stopPropagation();
        dragged = false;
      }
    }, true);
    view.addEventListener('wheel', (event: WheelEvent) => {
      if (event.ctrlKey || event.metaKey) {
        event.preventDefault();
        this._zoomTo(this._zoom * Math.exp(-event.deltaY / 400));
      }
    }, { passive: false });
  }

  private _graph(graph: ILayout, model: PipelineModel): HTMLElement {
    if (this._graphLayout?.width !== graph.width || this._graphLayout?.height !== graph.height) {
      if (!this._keepZoom) {
        this._zoomAuto = true;  // another graph: fitted again
      }
      this._keepZoom = false;  // a module opened or closed: a zoom the person chose stays
    }
    if (this._zoomAuto) {
      this._zoom = fitZoom(graph.width, this._room());
    }
    this._graphLayout = graph;
    const zoom = this._zoom;
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
      const title = svg('title', {}, `${edge.from} → ${edge.to}: ${edge.variables.join(', ')}`);
      const chosen = this._edge?.from === edge.from && this._edge?.to === edge.to;
      const g = svg('g', { class: `mlps-edge${chosen ? ' mlps-selected' : ''}`, 'data-from': edge.from, 'data-to': edge.to },
        svg('path', { d: edge.path, 'marker-end': 'url(#mlps-arrow)' }), title);
      if (this._actions.designer && edge.variables.length) {
        // the designer: a wide invisible stroke and a chip of what flows, to click
        g.appendChild(svg('path', { d: edge.path, class: 'mlps-edge-hit' }));
        g.appendChild(this._edgeChip(edge));
        g.setAttribute('role', 'button');
        g.setAttribute('tabindex', '0');
        g.setAttribute('aria-label', `values from ${edge.from} to ${edge.to}: ${edge.variables.join(', ')}`);
        const open = (): void => this._chooseEdge(edge);
        g.addEventListener('click', open);
        g.addEventListener('keydown', (event: Event) => {
          const key = (event as KeyboardEvent).key;
          if (key === 'Enter' || key === ' ') {
            event.preventDefault();
            open();
          }
        });
      }
      canvas.appendChild(g);
    }
    for (const node of graph.nodes) {
      canvas.appendChild(this._node(node, graph, model));
    }
    const view = el('div', { class: 'mlps-graph', 'data-zoom': zoom.toFixed(3) }, canvas);
    this._panAndZoom(view);
    return el('div', { class: 'mlps-graph-box' }, this._zoomTools(), view);
  }

  /** A step's node; a module step's: one node for all its steps (a toggle opens it), or its open binding node. */
  private _node(node: ILayoutNode, graph: ILayout, model: PipelineModel): SVGElement {
    const module = node.module;
    const collapsed = !!module && !module.expanded;
    const status = collapsed
      ? aggregateStatus(module!.members, step => badgeStatus(model, step), graph.status_order)
      : badgeStatus(model, node.name);
    const look = stateLook(status);
    const stepRun = collapsed ? undefined : model.stepRun(node.name);
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
    if (this._selected === node.name) {
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
      g.appendChild(moduleToggle(module, x + w - 24, y + 4, () => void this._toggleModule(node.name, !module.expanded)));
    }
    const choose = (): void => {
      this._edge = null;
      this._chooseVariable(null, false);
      this._selected = node.name;
      this._reveal = node.name;
      this._actions.selectStep(node.name);
      this._render();
    };
    g.addEventListener('click', choose);
    g.addEventListener('keydown', (event: Event) => {
      const key = (event as KeyboardEvent).key;
      if (key === 'Enter' || key === ' ') {
        event.preventDefault();
        choose();
      }
    });
    return g;
  }

  /**
   * Open or close a module: the server lays the plan out again. A zoom the person chose stays (a
   * fitted graph is fitted again); a step hidden by closing hands its selection to the module's node;
   * the module's node is scrolled into view.
   */
  private async _toggleModule(name: string, open: boolean): Promise<void> {
    const model = this._model;
    if (!model) {
      return;
    }
    if (!open && this._selected?.startsWith(name + '.')) {
      this._selected = name;
    }
    if (!open && this._edge && (this._edge.from.startsWith(name + '.') || this._edge.to.startsWith(name + '.'))) {
      this._edge = null;
      this._chooseVariable(null, false);
    }
    this._keepZoom = !this._zoomAuto;
    await model.setExpanded(name, open);
    if (this._model === model) {
      this._reveal = name;
      this._focusToggle = name;
      this._render();
    }
    this._keepZoom = false;
  }

  /** Show a step hidden in a collapsed module: open the modules around it, then select it. */
  private async _revealStep(step: string): Promise<void> {
    const model = this._model;
    if (!model) {
      return;
    }
    this._keepZoom = !this._zoomAuto;
    await model.reveal(step);
    if (this._model === model) {
      this._selected = step;
      this._reveal = step;
      this._render();
    }
    this._keepZoom = false;
  }

  /** The chip in the middle of an edge: its one variable, or how many (12 px: never under 11 px on screen). */
  private _edgeChip(edge: ILayoutEdge): SVGElement {
    const pts = edge.points;
    const [a, b] = [pts[Math.floor((pts.length - 1) / 2)], pts[Math.ceil((pts.length - 1) / 2)]];
    const [x, y] = [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2];
    const text = edge.variables.length === 1 ? truncate(edge.variables[0], 14) : `${edge.variables.length} values`;
    const w = text.length * 7 + 12;
    return svg('g', { class: 'mlps-edge-chip' },
      svg('rect', { x: x - w / 2, y: y - 9, width: w, height: 18, rx: 9 }),
      svg('text', { x, y: y + 4, 'text-anchor': 'middle' }, text));
  }

  private _chooseEdge(edge: ILayoutEdge): void {
    this._edge = { from: edge.from, to: edge.to };
    this._selected = null;
    this._chooseVariable(edge.variables.length === 1 ? edge.variables[0] : null, false);
    this._render();
  }

  /** Mark (or unmark) the cells of a variable of the chosen edge in the notebook. */
  private _chooseVariable(variable: string | null, render = true): void {
    this._variable = variable;
    const flow = variable && this._edge
      ? this._model?.plan?.flows?.find(f => f.from === this._edge!.from && f.to === this._edge!.to && f.variable === variable)
      : undefined;
    this._actions.designer?.highlight(flow?.defined_in ?? [], flow?.read_in ?? []);
    if (flow?.defined_in.length) {
      this._actions.designer?.selectCell(flow.defined_in[0]);
    }
    if (render) {
      this._render();
    }
  }

  private _details(name: string, model: PipelineModel): HTMLElement {
    const drawn = this._graphLayout?.nodes.find(n => n.name === name);
    if (drawn?.module && !drawn.module.expanded) {
      this._charts.update([]);
      return moduleDetails(drawn.name, drawn.module, this._graphLayout?.status_order, {
        status: step => badgeStatus(model, step),
        stepRun: step => model.stepRun(step),
        show: step => void (step === drawn.name ? this._toggleModule(step, true) : this._revealStep(step))
      });
    }
    const stepRun = model.stepRun(name);
    const look = stateLook(badgeStatus(model, name));
    const rows: Node[] = [
      el('div', { class: 'mlps-details-title' },
        el('span', { class: `mlps-chip mlps-state-${look.status}` }, `${look.icon} ${look.label}`), ` ${name}`)
    ];
    const duration = formatDuration(stepRun?.duration ?? null);
    if (stepRun?.status === 'reused' && stepRun.from_run) {
      rows.push(el('div', { class: 'mlps-muted' }, `reused from run ${stepRun.from_run} (its outputs, its notebook)`));
    } else if (duration) {
      rows.push(el('div', { class: 'mlps-muted' }, `took ${duration}`));
    }
    if (stepRun?.error) {  // the words the run wrote (cell, error, the user's traceback), not the record's JSON
      rows.push(el('pre', { class: 'mlps-error', 'data-role': 'step-error' }, truncate(errorText(stepRun.error), 4000)));
    }
    const open = el('button', { class: 'jp-mod-styled mlps-open-notebook', type: 'button' }, 'Open executed notebook');
    const run = model.run?.id;
    // the server says where it serves the notebook (null: none on disk); older servers only gave its path
    const hasNotebook = stepRun?.notebook_endpoint !== undefined ? !!stepRun.notebook_endpoint : !!stepRun?.notebook_path;
    if (run && hasNotebook) {
      if (stepRun?.notebook_path) {
        open.title = stepRun.notebook_path;
      }
      open.addEventListener('click', () => this._actions.openNotebook(model.path, run, name));
    } else {
      open.setAttribute('disabled', 'true');
      open.title = 'This step has no executed notebook in the watched run.';
    }
    // a chart per metric the step logged, with the other steps that log it on the same axes
    const order = (model.plan?.steps ?? []).map(s => s.name);
    const specs = stepChartSpecs(restMetrics(model.run?.metrics), order, name);
    if (specs.length) {
      rows.push(el('div', { class: 'mlps-metrics-title' }, 'Metrics'), this._charts.update(specs));
    } else {
      this._charts.update([]);
    }
    rows.push(open);
    if (run && stepRun?.status === 'failed' && this._actions.debugStep) {
      rows.push(this._debugButton(name, run));
    }
    return el('div', { class: 'mlps-details', 'data-step': name }, ...rows);
  }

  /** "Debug in kernel": the failed step's inputs into the kernel (`%pipeline debug`), its output below. */
  private _debugButton(name: string, run: string): HTMLElement {
    const button = el('button', {
      class: 'jp-mod-styled mlps-debug-step', type: 'button',
      title: `Load the values '${name}' received in run ${run} into this notebook's kernel ` +
        `(%pipeline debug ${name} --run ${run}), to fix its cell there`
    }, 'Debug in kernel');
    const said = el('pre', {
      class: 'mlps-debug-output',
      style: 'white-space: pre-wrap; overflow-wrap: anywhere; font-size: var(--jp-code-font-size); margin: 4px 0'
    });
    const key = `${run}/${name}`;
    const shown = this._debugOutput.get(key);
    said.hidden = shown === undefined;
    said.textContent = shown ?? '';
    if (shown === LOADING) {
      button.setAttribute('disabled', 'true');
    }
    button.addEventListener('click', () => {
      // kept by run and step, and drawn again: the panel may re-render while the kernel works
      this._debugOutput.set(key, LOADING);
      this._render();
      void this._actions.debugStep!(name, run)
        .catch((reason: unknown) => `Could not run %pipeline debug: ${reason}`)
        .then(text => {
          this._debugOutput.set(key, text);
          this._render();
        });
    });
    return el('div', { class: 'mlps-debug' }, button, said);
  }

  /** Cancel (a run going), or load its results into the kernel (a finished one). */
  private _runActions(run: string, active: boolean, model: PipelineModel): HTMLElement {
    const box = el('span', { class: 'mlps-run-actions' });
    if (active) {
      const cancel = el('button', {
        class: 'jp-mod-styled jp-mod-warn mlps-cancel', type: 'button', title: `Cancel run ${run}: its running steps stop`
      }, '■ Cancel');
      cancel.addEventListener('click', () => {
        cancel.setAttribute('disabled', 'true');
        void model.cancel().catch((reason: unknown) => {
          const error = reason as { message?: string; hint?: string | null };
          this._said.set(run, [error.message ?? String(reason), error.hint ?? ''].filter(Boolean).join('\n'));
          this._render();
        });
      });
      box.appendChild(cancel);
    } else if (this._actions.loadRun) {
      const load = el('button', {
        class: 'jp-mod-styled mlps-load-run', type: 'button',
        title: `Put the results of run ${run} into this notebook's kernel (%pipeline load ${shortRunId(run)})`
      }, 'Load into kernel');
      load.addEventListener('click', () => {
        this._said.set(run, 'loading its results into the kernel…');
        this._render();
        void this._actions.loadRun!(run)
          .catch((reason: unknown) => `Could not run %pipeline load: ${reason}`)
          .then(text => {
            this._said.set(run, text);
            this._render();
          });
      });
      box.appendChild(load);
    }
    return box;
  }

  private _runsList(runs: IRunSummary[], model: PipelineModel): HTMLElement {
    const box = el('div', { class: 'mlps-runs' }, el('h3', {}, 'Recent runs'));
    if (!runs.length) {
      box.appendChild(el('div', { class: 'mlps-empty' }, 'No runs yet.'));
      return box;
    }
    const list = el('ul', { class: 'mlps-runs-list' });
    for (const run of runs.slice(0, 20)) {
      const look = stateLook(run.status);
      const item = el('li', {
        class: `mlps-run-item mlps-state-${look.status}${model.run?.id === run.id ? ' mlps-selected' : ''}`,
        tabindex: '0', role: 'button', 'data-run': run.id, title: `show run ${run.id}`
      },
      el('span', { class: 'mlps-chip' }, `${look.icon} ${look.label}`),
      el('span', { class: 'mlps-run-id' }, run.id),
      el('span', { class: 'mlps-muted' }, [when(run.started), formatDuration(run.duration ?? null)].filter(Boolean).join(' · ')),
      el('span', { class: 'mlps-muted mlps-run-counts' }, countsText(run.step_counts)));
      if (run.pipeline) {  // a published pipeline's run: which one, which version, what triggered it
        item.appendChild(el('span', { class: 'mlps-muted mlps-run-published' },
          `${run.pipeline} v${run.pipeline_version ?? '?'} (${run.trigger?.kind ?? '?'})`));
      }
      const show = (): void => void model.watch(run.id);
      item.addEventListener('click', show);
      item.addEventListener('keydown', (event: KeyboardEvent) => {
        if (event.key === 'Enter' || event.key === ' ') {
          event.preventDefault();
          show();
        }
      });
      list.appendChild(item);
    }
    box.appendChild(list);
    return box;
  }

  private _model: PipelineModel | null = null;
  /** The selected step's metric charts, kept across re-renders. */
  private _charts = new ChartSet();
  private _selected: string | null = null;
  /** The designer: the chosen edge and variable, what the form's fields answered, a redraw waiting. */
  private _edge: { from: string; to: string } | null = null;
  private _variable: string | null = null;
  private _designSaid = new Map<string, string>();
  private _designTimer: number | null = null;
  private _designWait = false;
  /** The graph drawn, its zoom (fitted while `_zoomAuto`), its pan; a step to scroll into view. */
  private _graphLayout: ILayout | null = null;
  private _zoom = 1;
  private _zoomAuto = true;
  /** A module was opened or closed: the next graph keeps the zoom the person chose. */
  private _keepZoom = false;
  /** The module whose toggle had the focus: it gets it back once redrawn. */
  private _focusToggle: string | null = null;
  private _scroll = { left: 0, top: 0 };
  private _reveal: string | null = null;
  /** What `%pipeline debug` printed, by `RUN/STEP`: kept across re-renders. */
  private _debugOutput = new Map<string, string>();
  /** What a run's buttons answered (a refused cancel, what `%pipeline load` printed), by run id. */
  private _said = new Map<string, string>();
}
