jest.mock('@jupyterlab/coreutils', () => ({
  URLExt: { join: (...parts: string[]) => parts.join('/').replace(/([^:])\/{2,}/g, '$1/') }
}));
jest.mock('@jupyterlab/services', () => ({ ServerConnection: { makeSettings: () => ({ baseUrl: '/base/' }) } }));
jest.mock('@jupyterlab/apputils', () => ({ Dialog: {}, InputDialog: {}, showDialog: jest.fn(), showErrorMessage: jest.fn() }));
jest.mock('@lumino/widgets', () => ({ Widget: class {} }));
jest.mock('../icon', () => ({ pipelineIcon: {} }));
jest.mock('../api', () => ({ MlpipeApiError: class extends Error {}, requestAPI: jest.fn() }));

import * as api from '../api';
import { curlExample, listPublished, publishNotebook, publishedRuns } from '../published';

const request = api.requestAPI as jest.Mock;

describe('published pipelines', () => {
  beforeEach(() => request.mockReset());

  it('shows a curl line with a placeholder key', () => {
    const text = curlExample('churn daily', 'http://host:8888/base/');
    expect(text).toContain('curl -X POST http://host:8888/base/mlpipe/api/pipelines/churn%20daily/runs');
    expect(text).toContain('Authorization: Bearer <YOUR_KEY>');
  });

  it('asks the REST API', async () => {
    request.mockResolvedValueOnce({ pipelines: [{ name: 'a' }] });
    expect(await listPublished('sub/nb.ipynb')).toEqual([{ name: 'a' }]);
    expect(request).toHaveBeenLastCalledWith('pipelines?path=sub%2Fnb.ipynb');
    request.mockResolvedValueOnce({ runs: [] });
    expect(await publishedRuns('a', 3)).toEqual([]);
    expect(request).toHaveBeenLastCalledWith('pipelines/a/runs?limit=3');
    request.mockResolvedValueOnce({ name: 'a', version: 2, default: 1 });
    await publishNotebook('nb.ipynb', 'a');
    expect(request).toHaveBeenLastCalledWith('pipelines', {
      method: 'POST',
      body: JSON.stringify({ path: 'nb.ipynb', name: 'a' })
    });
  });
});
