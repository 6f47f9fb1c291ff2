/**
 * The pipeline side panel: the graph of the current notebook's plan with live
 * states, the selected step's details, and the recent runs. This is the Lumino widget:
 * it keeps what is selected, chosen and zoomed, and puts the parts together; the parts
 * draw themselves (graphview.ts, panzoom.ts, stepdetails.ts, moduleview.ts, runsview.ts).
 */

import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { ILayout, ILayoutEdge, IPlan } from './api';
import { IDesignerHost, flowDetails, stepForm } from './designer';
import { PipelineModel } from './model';
import { badgeStatus } from './badges';
import { el } from './dom';
import { graphCanvas } from './graphview';
import { drawnNodeOf } from './modules';
import { moduleDetails } from './moduleview';
import { IZoomHost, panAndZoom, zoomTools } from './panzoom';
import { RunLine, runsList } from './runsview';
import { isActive } from './states';
import { StepDetails } from './stepdetails';
import { clampZoom, fitZoom, revealScroll } from './zoom';

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

export class PipelinePanel extends Widget {
  constructor(private _actions: IPanelActions) {
    super();
    this.id = 'mlpipe-side-panel';
    this.addClass('mlps-panel');
    this.title.caption = 'Pipeline (jupyter-mlpipe)';
    this.title.label = 'Pipeline';
    this.node.tabIndex = -1;
    this._stepDetails = new StepDetails(_actions, () => this._render());
    this._runLine = new RunLine(_actions, () => this._render());
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
    this._stepDetails.dispose();
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
      parts.push(this._runLine.draw(run, model));
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
    parts.push(runsList(model.runs, model));
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
    const canvas = graphCanvas(graph, zoom, {
      selected: this._selected,
      edge: this._edge,
      edgesChoosable: !!this._actions.designer,
      status: step => badgeStatus(model, step),
      stepRun: step => model.stepRun(step),
      chooseStep: name => this._chooseStep(name),
      chooseEdge: edge => this._chooseEdge(edge),
      toggleModule: (name, open) => void this._toggleModule(name, open)
    });
    const view = el('div', { class: 'mlps-graph', 'data-zoom': zoom.toFixed(3) }, canvas);
    panAndZoom(view, this._zoomHost);
    return el('div', { class: 'mlps-graph-box' }, zoomTools(this._zoomHost), view);
  }

  /** A click (or Enter) on a step's node: select it, and its first cell in the notebook. */
  private _chooseStep(name: string): void {
    this._edge = null;
    this._chooseVariable(null, false);
    this._selected = name;
    this._reveal = name;
    this._actions.selectStep(name);
    this._render();
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
      this._stepDetails.clearCharts();
      return moduleDetails(drawn.name, drawn.module, this._graphLayout?.status_order, {
        status: step => badgeStatus(model, step),
        stepRun: step => model.stepRun(step),
        show: step => void (step === drawn.name ? this._toggleModule(step, true) : this._revealStep(step))
      });
    }
    return this._stepDetails.draw(name, model);
  }

  private _model: PipelineModel | null = null;
  /** The selected step's details and the watched run's line: what they keep across re-renders. */
  private _stepDetails: StepDetails;
  private _runLine: RunLine;
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
  /** The panel's zoom, for the zoom buttons and the graph's drag and wheel (panzoom.ts). */
  private _zoomHost: IZoomHost = {
    zoom: () => this._zoom,
    zoomTo: zoom => this._zoomTo(zoom),
    panned: scroll => {
      this._scroll = scroll;
    }
  };
  private _reveal: string | null = null;
}
