/** jupyter-mlpipe in JupyterLab: step badges, the pipeline side panel, commands. */

import { ILabShell, IRouter, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';

import { CellBadges } from './badges';
import { debugCode, loadCode, runInKernel } from './debug';
import { addDesignCommands } from './designcommands';
import { cellInfos, highlightCells, IDesignerHost } from './designer';
import { StepNotebookDrive } from './drive';
import { addCommands, CommandIDs } from './commands';
import { PipelineModels } from './model';
import { PipelinePanel } from './panel';
import { pipelineIcon } from './icon';
import { addPublishing } from './published';
import { DRIVE_NAME, isStepNotebookPath, routedStepNotebook, STEP_NOTEBOOK_ROUTE } from './stepnotebook';

export { CommandIDs };

/** The command behind the `lab/tree/mlpipe:RUN/STEP.ipynb` route (not in the palette). */
const OPEN_ROUTED = 'mlpipe:open-routed-step-notebook';

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-mlpipe:plugin',
  description: 'Step badges, a pipeline side panel and commands for jupyter-mlpipe notebooks.',
  autoStart: true,
  requires: [INotebookTracker, IDocumentManager],
  optional: [ICommandPalette, ILabShell, IRouter],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    docManager: IDocumentManager,
    palette: ICommandPalette | null,
    labShell: ILabShell | null,
    router: IRouter | null
  ) => {
    const models = new PipelineModels();
    const badges = new Map<NotebookPanel, CellBadges>();

    /** Scroll to a step's first cell (in `notebook`, else the current notebook) and select it. */
    const selectStep = (name: string, inPanel?: NotebookPanel): void => {
      const panel = inPanel ?? tracker.currentWidget;
      const cells = badges.get(panel!);
      if (!panel || !cells) {
        return;
      }
      // a module's steps (`feats.clean`) are all in the module step's cell (`%%step feats --module ...`)
      const roles = cells.roles();
      let index = roles.findIndex(r => r.kind === 'step' && r.step === name);
      if (index < 0 && name.includes('.')) {
        index = roles.findIndex(r => r.kind === 'step' && r.step === name.split('.')[0]);
      }
      if (index < 0) {
        return;
      }
      const notebook = panel.content;
      notebook.deselectAll();
      notebook.activeCellIndex = index;
      notebook.mode = 'command';
      void notebook.scrollToItem(index, 'center');
    };

    /** `%pipeline debug STEP --run RUN` in the current notebook's kernel, after scrolling to the step. */
    const debugStep = async (name: string, run: string): Promise<string> => {
      selectStep(name);
      const kernel = tracker.currentWidget?.sessionContext.session?.kernel;
      if (!kernel) {
        return 'This notebook has no running kernel: start one (and %load_ext jupyter_mlpipe), then try again.';
      }
      return runInKernel(kernel, debugCode(name, run));
    };

    /** `%pipeline load RUN` in the current notebook's kernel: a server-side run's results, there. */
    const loadRun = async (run: string): Promise<string> => {
      const kernel = tracker.currentWidget?.sessionContext.session?.kernel;
      if (!kernel) {
        return 'This notebook has no running kernel: start one (and %load_ext jupyter_mlpipe), then try again.';
      }
      return runInKernel(kernel, loadCode(run));
    };

    // executed step notebooks live in the hidden .mlpipe folder, which the Contents API
    // refuses: a read-only drive serves them from the REST API as mlpipe:<run>/<step>.ipynb
    const drive = new StepNotebookDrive(app.serviceManager.serverSettings);
    app.serviceManager.contents.addDrive(drive);

    const openNotebook = (notebook: string, run: string, step: string): void => {
      docManager.openOrReveal(`${DRIVE_NAME}:${drive.register(run, step, notebook)}`);
    };

    if (router) {
      // the kernel's run panel links to lab/tree/mlpipe:RUN/STEP.ipynb; JupyterLab's tree
      // route (rank 100) would look for a file browser of the drive: open it here and stop
      app.commands.addCommand(OPEN_ROUTED, {
        label: 'Open an executed step notebook (from the URL)',
        execute: args => {
          const path = routedStepNotebook(String(args.path ?? ''));
          if (!path) {
            return;
          }
          void app.restored.then(() => docManager.openOrReveal(path));
          return router.stop;
        }
      });
      router.register({ command: OPEN_ROUTED, pattern: STEP_NOTEBOOK_ROUTE, rank: 99 });
    }

    // the run panel widget's "Open STEP.ipynb" link (lab/tree/mlpipe:RUN/STEP.ipynb, target _blank for
    // pages without this extension): here it opens in this JupyterLab, as the side panel's button does
    document.addEventListener('click', (event: MouseEvent) => {
      const link = (event.target as Element | null)?.closest?.('a[data-mlpipe-notebook]') as HTMLAnchorElement | null;
      if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) {
        return;
      }
      const base = new URL(app.serviceManager.serverSettings.baseUrl, window.location.href).pathname;
      const target = new URL(link.href, window.location.href).pathname;
      const path = target.startsWith(base) ? routedStepNotebook('/' + target.slice(base.length)) : null;
      if (path) {
        event.preventDefault();
        void docManager.openOrReveal(path);
      }
    }, true);

    /** The open notebook of the side panel's pipeline (the designer edits it). */
    const designed = (): NotebookPanel | null => {
      const path = sidePanel.model?.path;
      const found = [...badges.keys()].filter(p => p.context.path === path);
      return found.find(p => p === tracker.currentWidget) ?? found[0] ?? null;
    };
    const designer: IDesignerHost = {
      notebook: designed,
      execute: command => {
        const panel = designed();
        if (panel && tracker.currentWidget !== panel) {
          app.shell.activateById(panel.id);
        }
        void app.commands.execute(command);
      },
      selectCell: index => {
        const panel = designed();
        if (panel) {
          panel.content.activeCellIndex = index;
          void panel.content.scrollToItem(index, 'center');
        }
      },
      highlight: (defines, reads) => {
        for (const panel of badges.keys()) {
          highlightCells(panel, panel === designed() ? defines : [], panel === designed() ? reads : []);
        }
      }
    };

    const sidePanel = new PipelinePanel({
      selectStep,
      openNotebook,
      run: () => void app.commands.execute(CommandIDs.runPipeline),
      debugStep,
      loadRun,
      designer
    });
    sidePanel.title.icon = pipelineIcon;
    sidePanel.title.label = labShell ? '' : 'Pipeline';
    app.shell.add(sidePanel, 'right', { rank: 650 });
    addDesignCommands(app, tracker, palette); // split, merge, scratch, new step (designcommands.ts)
    addPublishing(app, tracker, palette); // the Published panel and "Publish this pipeline" (published.ts)

    /** The side panel's model for a notebook: an executed step notebook shows its pipeline's, if known. */
    const panelModel = (panel: NotebookPanel) => {
      const path = panel.context.path;
      if (!isStepNotebookPath(path)) {
        return models.get(path);
      }
      const pipeline = drive.notebookOf(path.slice(DRIVE_NAME.length + 1));
      return pipeline ? models.get(pipeline) : null;
    };

    tracker.widgetAdded.connect((_, panel) => {
      if (isStepNotebookPath(panel.context.path)) {
        // a record of what ran, however it was opened (side panel, run panel link): no kernel for it
        const session = panel.context.sessionContext;
        session.kernelPreference = { ...session.kernelPreference, shouldStart: false, canStart: false };
        // a read-only record of a run: no badges, no plan of its own
        void panel.context.ready.then(() => {
          if (tracker.currentWidget === panel) {
            sidePanel.model = panelModel(panel);
          }
        });
        return;
      }
      void panel.context.ready.then(() => {
        const model = models.get(panel.context.path);
        const cellBadges = new CellBadges(panel, model);
        badges.set(panel, cellBadges);
        // the designer's form shows the %%step lines as they are in the editor
        let lines = '';
        panel.content.model?.contentChanged.connect(() => {
          const now = cellInfos(panel).map(c => (c.source.startsWith('%%') ? c.source.split('\n', 1)[0] : '')).join('\n');
          if (now !== lines && sidePanel.model?.path === panel.context.path) {
            sidePanel.designChanged();
          }
          lines = now;
        });
        panel.context.pathChanged.connect((_, newPath) => {
          const old = cellBadges.model.path;
          models.rename(old, newPath);
        });
        panel.context.saveState.connect((_, state) => {
          if (state === 'completed') {
            void models.get(panel.context.path).refreshPlan();
          }
        });
        panel.disposed.connect(() => {
          cellBadges.dispose();
          badges.delete(panel);
        });
        if (tracker.currentWidget === panel) {
          sidePanel.model = model;
        }
      });
    });
    tracker.currentChanged.connect((_, panel) => {
      if (panel && panel.context.isReady) {
        sidePanel.model = panelModel(panel);
      } else if (!panel) {
        sidePanel.model = null;
      }
    });

    addCommands({
      app,
      tracker,
      palette,
      modelOf: panel => models.get(panel.context.path),
      badgesOf: panel => badges.get(panel),
      showPanel: () => app.shell.activateById(sidePanel.id),
      selectStep: (name: string, panel: NotebookPanel) => {
        app.shell.activateById(panel.id);
        selectStep(name, panel);
        app.shell.activateById(sidePanel.id);
        sidePanel.model = panelModel(panel);
        sidePanel.select(name);
      },
      loadRun
    });
  }
};

export default plugin;
