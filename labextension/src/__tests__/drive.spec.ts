jest.mock('@jupyterlab/coreutils', () => ({
  URLExt: { join: (...parts: string[]) => parts.join('/').replace(/([^:])\/{2,}/g, '$1/') }
}));
jest.mock('@jupyterlab/services', () => ({ ServerConnection: { makeSettings: () => ({ baseUrl: '/base/' }) } }));
jest.mock('../api', () => {
  class MlpipeApiError extends Error {
    constructor(message: string, readonly status: number, readonly hint: string | null = null, readonly data = {}) {
      super(message);
    }
  }
  return { MlpipeApiError, requestAPI: jest.fn() };
});

import * as api from '../api';
import { READ_ONLY_MESSAGE, StepNotebookDrive } from '../drive';

const RUN = '20261125-023501-3f9a1c';
const NB = { cells: [{ cell_type: 'code', source: 'x = 1', metadata: {}, outputs: [], execution_count: 1 }], metadata: {}, nbformat: 4, nbformat_minor: 5 };
const request = api.requestAPI as jest.Mock;

describe('StepNotebookDrive', () => {
  beforeEach(() => request.mockReset());

  it('serves a step notebook from the REST API as a read-only notebook model', async () => {
    const drive = new StepNotebookDrive({ baseUrl: '/base/' } as any);
    const local = drive.register(RUN, 'train', 'work/pipe.ipynb');
    expect(local).toBe(`${RUN}/train.ipynb`);
    expect(drive.notebookOf(local)).toBe('work/pipe.ipynb');
    request.mockResolvedValue(NB);
    const model = await drive.get(local, { type: 'notebook', content: true });
    expect(request.mock.calls[0][0]).toBe(`runs/${RUN}/steps/train/notebook?path=work%2Fpipe.ipynb`);
    expect(model).toMatchObject({ name: 'train.ipynb', path: local, type: 'notebook', format: 'json', writable: false, content: NB });
    expect(await drive.getDownloadUrl(local)).toBe(`/base/mlpipe/api/runs/${RUN}/steps/train/notebook?path=work%2Fpipe.ipynb`);
  });

  it('asks without ?path= for a notebook it was not told about (e.g. after a reload)', async () => {
    const drive = new StepNotebookDrive({ baseUrl: '/' } as any);
    request.mockResolvedValue(NB);
    const model = await drive.get(`${RUN}/load.ipynb`, { content: false });
    expect(request.mock.calls[0][0]).toBe(`runs/${RUN}/steps/load/notebook`);
    expect(model.content).toBeNull();
  });

  it('refuses other paths and every write', async () => {
    const drive = new StepNotebookDrive({ baseUrl: '/' } as any);
    await expect(drive.get('.mlpipe/runs/x/train.ipynb')).rejects.toThrow(/not an executed step notebook/);
    const local = `${RUN}/train.ipynb`;
    for (const write of [
      () => drive.save(local, { type: 'notebook', content: NB }),
      () => drive.newUntitled({ path: '' }),
      () => drive.delete(local),
      () => drive.rename(local, `${RUN}/other.ipynb`),
      () => drive.copy(local, ''),
      () => drive.createCheckpoint(local),
      () => drive.restoreCheckpoint(local, 'c'),
      () => drive.deleteCheckpoint(local, 'c')
    ]) {
      await expect(write()).rejects.toThrow(READ_ONLY_MESSAGE);
    }
    expect(READ_ONLY_MESSAGE).toMatch(/read-only/);
    await expect(drive.listCheckpoints(local)).resolves.toEqual([]);
    expect(request).not.toHaveBeenCalled();
  });
});
