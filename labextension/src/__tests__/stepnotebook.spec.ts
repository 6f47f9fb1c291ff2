import {
  decodeLocalPath,
  encodeLocalPath,
  isStepNotebookPath,
  markTrusted,
  notebookEndpoint,
  routedStepNotebook,
  stepNotebookPath
} from '../stepnotebook';

const RUN = '20261125-023501-3f9a1c';

describe('step notebook paths', () => {
  it('encode a run and a step as <run>/<step>.ipynb', () => {
    expect(encodeLocalPath(RUN, 'train')).toBe(`${RUN}/train.ipynb`);
    expect(stepNotebookPath(RUN, 'feature-eng_2')).toBe(`mlpipe:${RUN}/feature-eng_2.ipynb`);
  });
  it('decode what they encode', () => {
    for (const step of ['train', '_x', 'a-b_c9', 'x'.repeat(64)]) {
      expect(decodeLocalPath(encodeLocalPath(RUN, step))).toEqual({ run: RUN, step });
    }
    expect(decodeLocalPath(`/${RUN}/load.ipynb/`)).toEqual({ run: RUN, step: 'load' });
    const full = stepNotebookPath(RUN, 'load');
    expect(isStepNotebookPath(full)).toBe(true);
    expect(decodeLocalPath(full.slice('mlpipe:'.length))).toEqual({ run: RUN, step: 'load' });
    expect(isStepNotebookPath(`.mlpipe/runs/${RUN}/load.ipynb`)).toBe(false);
  });
  it('refuse what is not a run id or a step name', () => {
    expect(() => encodeLocalPath('../etc', 'train')).toThrow(/not a run id/);
    expect(() => encodeLocalPath(RUN, 'a/b')).toThrow(/not a step name/);
    expect(() => encodeLocalPath(RUN, '1st')).toThrow(/not a step name/);
    for (const bad of ['', RUN, `${RUN}/train`, `${RUN}/train.py`, `${RUN}/a/train.ipynb`, `../${RUN}/train.ipynb`,
      `runs/${RUN}/train.ipynb`, `${RUN}/.ipynb`, `${RUN}/tr ain.ipynb`, `${RUN}/${'x'.repeat(65)}.ipynb`]) {
      expect(decodeLocalPath(bad)).toBeNull();
    }
  });
  it('map to the REST endpoint, with the pipeline notebook when known', () => {
    const ref = { run: RUN, step: 'train' };
    expect(notebookEndpoint(ref)).toBe(`runs/${RUN}/steps/train/notebook`);
    expect(notebookEndpoint(ref, 'work dir/pipe #1.ipynb')).toBe(
      `runs/${RUN}/steps/train/notebook?path=work%20dir%2Fpipe%20%231.ipynb`
    );
  });
});

describe('step notebook routes', () => {
  it('read lab/tree/mlpipe:RUN/STEP.ipynb in its spellings', () => {
    const full = `mlpipe:${RUN}/train.ipynb`;
    expect(routedStepNotebook(`/lab/tree/mlpipe:${RUN}/train.ipynb`)).toBe(full);
    expect(routedStepNotebook(`/lab/tree/mlpipe%3A${RUN}/train.ipynb`)).toBe(full);
    expect(routedStepNotebook(`/lab/workspaces/auto-x/tree/mlpipe:${RUN}/train.ipynb`)).toBe(full);
    expect(routedStepNotebook(`/doc/tree/mlpipe:${RUN}/train.ipynb`)).toBe(full);
  });
  it('leave every other route to JupyterLab', () => {
    for (const other of ['/lab', '/lab/tree/work/pipe.ipynb', `/lab/tree/.mlpipe/runs/${RUN}/train.ipynb`,
      `/lab/tree/mlpipe:${RUN}/../train.ipynb`, `/lab/tree/mlpipe:${RUN}/train.py`, '/lab/tree/mlpipe:%E0%A4%A',
      `/notebooks/mlpipe:${RUN}/train.ipynb`]) {
      expect(routedStepNotebook(other)).toBeNull();
    }
  });
});

describe('markTrusted', () => {
  it('trusts every code cell of an executed step notebook (its rich outputs render)', () => {
    const nb = markTrusted({
      cells: [
        { cell_type: 'markdown', metadata: {}, source: '# notes' },
        { cell_type: 'code', metadata: { mlpipe: { cell: 3 } }, source: 'df', outputs: [] },
        { cell_type: 'code', source: 'x' }
      ]
    });
    expect(nb.cells.map((c: any) => c.metadata?.trusted)).toEqual([undefined, true, true]);
    expect((nb.cells[1] as any).metadata.mlpipe).toEqual({ cell: 3 });
    expect(markTrusted({} as any)).toEqual({});
  });
});
