import { debugCode, ICodeRunner, runInKernel } from '../debug';

/** A kernel that answers an execute request with `messages` on iopub, then is done. */
function fakeKernel(messages: { msg_type: string; content: Record<string, unknown> }[]) {
  const requests: unknown[] = [];
  const kernel = {
    requestExecute(content: unknown) {
      requests.push(content);
      const future: { onIOPub: ((msg: unknown) => void) | null; done: Promise<void> } = {
        onIOPub: null,
        done: Promise.resolve().then(() => {
          for (const { msg_type, content: body } of messages) {
            future.onIOPub?.({ header: { msg_type }, content: body });
          }
        })
      };
      return future;
    }
  };
  return { kernel: kernel as unknown as ICodeRunner, requests };
}

describe('debugCode', () => {
  it('names the step and the run the panel shows', () => {
    expect(debugCode('train', '20261203-131939-07874b')).toBe('%pipeline debug train --run 20261203-131939-07874b');
  });
});

describe('runInKernel', () => {
  it('runs the code outside the input history and gives back what it printed', async () => {
    const { kernel, requests } = fakeKernel([
      { msg_type: 'status', content: { execution_state: 'busy' } },
      { msg_type: 'stream', content: { name: 'stdout', text: "Step 'train', run R (it failed there):\n" } },
      { msg_type: 'stream', content: { name: 'stdout', text: '  X  ndarray float64 (10, 2)  (from step \'features\')\n' } }
    ]);
    const text = await runInKernel(kernel, '%pipeline debug train --run R');
    expect(requests).toEqual([{ code: '%pipeline debug train --run R', silent: false, store_history: false }]);
    expect(text).toBe("Step 'train', run R (it failed there):\n  X  ndarray float64 (10, 2)  (from step 'features')");
  });

  it('gives an error as its name and message', async () => {
    const { kernel } = fakeKernel([
      { msg_type: 'error', content: { ename: 'UsageError', evalue: "Step 'report' did not run in run R", traceback: [] } }
    ]);
    expect(await runInKernel(kernel, 'x')).toBe("UsageError: Step 'report' did not run in run R");
  });

  it('says how to load the extension when %pipeline is unknown', async () => {
    const { kernel } = fakeKernel([
      { msg_type: 'error', content: { ename: 'UsageError', evalue: 'Line magic function `%pipeline` not found.', traceback: [] } }
    ]);
    expect(await runInKernel(kernel, 'x')).toContain('%load_ext jupyter_mlpipe');
  });
});
