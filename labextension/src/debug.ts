/**
 * "Debug in kernel" (side panel, on a failed step): `%pipeline debug STEP --run RUN`
 * in the notebook's kernel, which loads the values the step received in that run;
 * what it printed comes back as text for the panel to show.
 */

import type { Kernel, KernelMessage } from '@jupyterlab/services';

/** The magic that loads what `step` received in `run` into the kernel. */
export function debugCode(step: string, run: string): string {
  return `%pipeline debug ${step} --run ${run}`;
}

/** The magic that puts a run's results into the kernel (a run started from the side panel or the palette). */
export function loadCode(run: string): string {
  return `%pipeline load ${run}`;
}

/** What a kernel needs to offer: executing code (a `Kernel.IKernelConnection` does). */
export type ICodeRunner = Pick<Kernel.IKernelConnection, 'requestExecute'>;

/**
 * Run `code` in `kernel` (not in the notebook's input history); resolves to what it
 * printed and the error it raised (`ename: evalue`), with a hint when `%pipeline` is unknown.
 */
export async function runInKernel(kernel: ICodeRunner, code: string): Promise<string> {
  const future = kernel.requestExecute({ code, silent: false, store_history: false });
  let text = '';
  future.onIOPub = (msg: KernelMessage.IIOPubMessage) => {
    const type = msg.header.msg_type;
    if (type === 'stream') {
      text += (msg as KernelMessage.IStreamMsg).content.text;
    } else if (type === 'error') {
      const { ename, evalue } = (msg as KernelMessage.IErrorMsg).content;
      text += `${ename}: ${evalue}\n`;
      if (/%?pipeline.*not found/.test(evalue)) {
        text += 'Load the extension in the notebook first: %load_ext jupyter_mlpipe\n';
      }
    }
  };
  await future.done;
  return text.replace(/\s+$/, '');
}
