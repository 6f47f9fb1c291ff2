/**
 * The design commands (#18): split a step at the active cell, merge a step into the one
 * before, mark a cell scratch, add a new step after this one. In the command palette, the
 * cell context menu and the side panel's designer. Each edits the open notebook (undone like
 * any edit); a refusal says why in a dialog.
 */

import { JupyterFrontEnd } from '@jupyterlab/application';
import { Dialog, ICommandPalette, showDialog, showErrorMessage } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';

import { applyEdit, cellInfos } from './designer';
import { DesignResult, mergeStep, newStepAfter, splitStep, toggleScratch } from './designops';
import { ICellInfo } from './stepline';
import { isStepNotebookPath } from './stepnotebook';

export namespace DesignCommandIDs {
  export const split = 'mlpipe:split-step';
  export const merge = 'mlpipe:merge-step';
  export const scratch = 'mlpipe:toggle-scratch';
  export const newStep = 'mlpipe:new-step-after';
}

const COMMANDS: [string, string, string, string, (cells: readonly ICellInfo[], index: number) => DesignResult][] = [
  [DesignCommandIDs.split, 'mlpipe: Split step at this cell', 'The active cell becomes the first cell of a new step (%%step NAME on top)', 'Cannot split the step here', splitStep],
  [DesignCommandIDs.merge, 'mlpipe: Merge step into the one before', "Remove this step's %%step line: its cells join the step before", 'Cannot merge this step', mergeStep],
  [DesignCommandIDs.scratch, 'mlpipe: Mark cell scratch', 'Put %%scratch on top of the active cell (it runs in the kernel, not in the pipeline), or take it off', 'Cannot mark this cell scratch', toggleScratch],
  [DesignCommandIDs.newStep, 'mlpipe: New step after this one', 'Insert a new %%step cell after the last cell of the active step', 'Cannot add a step here', newStepAfter]
];

export function addDesignCommands(app: JupyterFrontEnd, tracker: INotebookTracker, palette: ICommandPalette | null): void {
  const enabled = (): boolean =>
    tracker.currentWidget !== null && tracker.activeCell !== null && !isStepNotebookPath(tracker.currentWidget.context.path);
  for (const [id, label, caption, title, operation] of COMMANDS) {
    app.commands.addCommand(id, {
      label,
      caption,
      isEnabled: enabled,
      execute: async () => {
        const panel = tracker.currentWidget;
        if (!panel?.content.model) {
          return;
        }
        const index = panel.content.activeCellIndex;
        const result = operation(cellInfos(panel), index);
        if (!result.ok) {
          await showErrorMessage(title, result.message, [Dialog.okButton()]);
          return;
        }
        const edit = result.edit;
        if (edit.kind === 'source' && edit.dropped?.length) {
          const answer = await showDialog({
            title: 'Merge step into the one before',
            body: `Its options go away with its %%step line: ${edit.dropped.join(' ')}. The cells then run as ` +
              `part of '${edit.note}', with that step's options.`,
            buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Merge' })]
          });
          if (!answer.button.accept) {
            return;
          }
        }
        applyEdit(panel, edit);
      }
    });
    palette?.addItem({ command: id, category: 'Pipeline (mlpipe)' });
  }
  let rank = 50;
  for (const [id] of COMMANDS) {
    app.contextMenu.addItem({ command: id, selector: '.jp-Notebook .jp-Cell', rank: rank++ });
  }
}
