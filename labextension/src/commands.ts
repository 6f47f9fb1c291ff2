/** The commands: make a cell a step, run the pipeline, run up to a step, show the plan. */

import { JupyterFrontEnd } from '@jupyterlab/application';
import { Dialog, ICommandPalette, InputDialog, Notification, showErrorMessage } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';

import { MlpipeApiError } from './api';
import { cellNumber } from './format';
import { notifyWhenDone } from './notify';
import { pipelineIcon } from './icon';
import { CellBadges } from './badges';
import { PipelineModel } from './model';
import { invalidStepName, suggestStepName, withStepLine } from './stepline';
import { isStepNotebookPath } from './stepnotebook';

export namespace CommandIDs {
  export const makeStep = 'mlpipe:make-step';
  export const runPipeline = 'mlpipe:run-pipeline';
  export const runToStep = 'mlpipe:run-to-step';
  export const showPlan = 'mlpipe:show-plan';
}

export interface ICommandContext {
  app: JupyterFrontEnd;
  tracker: INotebookTracker;
  palette: ICommandPalette | null;
  /** The model and badges of a notebook panel. */
  modelOf(panel: NotebookPanel): PipelineModel;
  badgesOf(panel: NotebookPanel): CellBadges | undefined;
  showPanel(): void;
  /** Scroll to a step's first cell in `panel` and show it in the side panel. */
  selectStep(name: string, panel: NotebookPanel): void;
  /** `%pipeline load RUN` in the notebook's kernel; resolves to what it printed. */
  loadRun?(run: string): Promise<string>;
}

async function reportError(title: string, error: unknown): Promise<void> {
  if (error instanceof MlpipeApiError) {
    await showErrorMessage(title, error.hint ? `${error.message}\n\n${error.hint}` : error.message);
  } else {
    await showErrorMessage(title, error instanceof Error ? error.message : String(error));
  }
}

/**
 * Save the notebook (a run reads the file), then start the run on the server; when it
 * ends, a notification says how (a failure links to its step). A run that cannot start
 * (a plan error) says why in a notification that links to the cell.
 */
async function run(ctx: ICommandContext, panel: NotebookPanel, steps?: string[]): Promise<void> {
  const path = panel.context.path;
  let id: string;
  try {
    await panel.context.ready;
    await panel.context.save();
    const model = ctx.modelOf(panel);
    void model.refreshPlan();
    id = await model.start(steps ? { steps } : {});
  } catch (error) {
    if (error instanceof MlpipeApiError && error.status === 400) {
      const cell = typeof error.data.cell === 'number' ? error.data.cell : null;
      const actions: Notification.IAction[] = cell === null ? [] : [{
        label: `Go to cell ${cellNumber(cell)}`,
        callback: () => {
          panel.content.activeCellIndex = cell;
          void panel.content.scrollToItem(cell, 'center');
        }
      }];
      Notification.error(`The pipeline cannot run: ${error.message}`.slice(0, 140), { autoClose: false, actions });
      return;
    }
    await reportError('Could not start the pipeline run', error);
    return;
  }
  void notifyWhenDone(path, id, { selectStep: (name: string) => ctx.selectStep(name, panel), loadRun: ctx.loadRun });
}

export function addCommands(ctx: ICommandContext): void {
  const { app, tracker, palette } = ctx;
  const { commands } = app;
  // an executed step notebook (mlpipe:<run>/<step>.ipynb) is a read-only record, not a pipeline
  const hasNotebook = (): boolean =>
    tracker.currentWidget !== null &&
    tracker.currentWidget === app.shell.currentWidget &&
    !isStepNotebookPath(tracker.currentWidget.context.path);
  const activeCode = (): boolean => hasNotebook() && tracker.activeCell?.model.type === 'code';

  commands.addCommand(CommandIDs.makeStep, {
    label: args => (args.toolbar ? '' : 'mlpipe: Make this cell a step'),
    caption: 'mlpipe: Make this cell a step (insert %%step NAME as its first line)',
    icon: args => (args.toolbar ? pipelineIcon : undefined),
    isEnabled: activeCode,
    execute: async () => {
      const panel = tracker.currentWidget;
      const cell = tracker.activeCell;
      if (!panel || !cell || cell.model.type !== 'code') {
        return;
      }
      const roles = ctx.badgesOf(panel)?.roles() ?? [];
      const index = panel.content.widgets.indexOf(cell);
      const taken = roles.filter((r, i) => r.kind === 'step' && i !== index).map(r => r.step ?? '');
      const source = cell.model.sharedModel.getSource();
      const result = await InputDialog.getText({
        title: 'Make this cell a step',
        label: 'Step name (letters, digits, _ and -)',
        text: suggestStepName(source.replace(/^%%\S+.*\n?/, ''), taken),
        okLabel: 'Make step'
      });
      if (!result.button.accept || result.value === null) {
        return;
      }
      const name = result.value.trim();
      const problem = invalidStepName(name, taken);
      if (problem) {
        await showErrorMessage('Not a valid step name', problem, [Dialog.okButton()]);
        return;
      }
      cell.model.sharedModel.setSource(withStepLine(source, name));
    }
  });

  commands.addCommand(CommandIDs.runPipeline, {
    label: 'mlpipe: Run pipeline',
    caption: 'Save the notebook and run its pipeline (steps whose code and inputs did not change are reused)',
    isEnabled: hasNotebook,
    execute: async () => {
      const panel = tracker.currentWidget;
      if (panel) {
        await run(ctx, panel);
      }
    }
  });

  commands.addCommand(CommandIDs.runToStep, {
    label: 'mlpipe: Run up to this step',
    caption: 'Save the notebook and run the step of the active cell and what it needs',
    isEnabled: activeCode,
    execute: async () => {
      const panel = tracker.currentWidget;
      const cell = tracker.activeCell;
      if (!panel || !cell) {
        return;
      }
      const index = panel.content.widgets.indexOf(cell);
      const role = ctx.badgesOf(panel)?.roles()[index];
      if (!role?.step) {
        await showErrorMessage(
          'This cell is not part of a step',
          'Select a %%step cell (or a cell after one), or use "mlpipe: Make this cell a step".'
        );
        return;
      }
      await run(ctx, panel, [role.step]);
    }
  });

  commands.addCommand(CommandIDs.showPlan, {
    label: 'mlpipe: Show plan',
    caption: 'Open the pipeline side panel for this notebook',
    execute: () => {
      const panel = tracker.currentWidget;
      if (panel) {
        void ctx.modelOf(panel).refresh();
      }
      ctx.showPanel();
    }
  });

  const category = 'Pipeline (mlpipe)';
  for (const command of Object.values(CommandIDs)) {
    palette?.addItem({ command, category });
  }
  let rank = 40;
  for (const command of [CommandIDs.makeStep, CommandIDs.runToStep, CommandIDs.runPipeline, CommandIDs.showPlan]) {
    app.contextMenu.addItem({ command, selector: '.jp-Notebook .jp-Cell', rank: rank++ });
  }
  app.commands.addKeyBinding({
    command: CommandIDs.runPipeline,
    keys: ['Accel Alt Enter'],
    selector: '.jp-Notebook'
  });
  app.commands.addKeyBinding({
    command: CommandIDs.showPlan,
    keys: ['Accel Alt P'],
    selector: '.jp-Notebook'
  });
}
