import {
  classifyCells,
  invalidStepName,
  parseStepLine,
  splitArgs,
  stepLineText,
  suggestStepName,
  withStepLine
} from '../stepline';

describe('stepLineText', () => {
  it('finds the text after %%step on the first line', () => {
    expect(stepLineText('%%step train --compute gpu\nfit()')).toBe('train --compute gpu');
    expect(stepLineText('\n\n%%step load\nx = 1')).toBe('load');
    expect(stepLineText('%%step')).toBe('');
  });
  it('ignores other magics and later lines', () => {
    expect(stepLineText('%%steps x')).toBeNull();
    expect(stepLineText('x = 1\n%%step a')).toBeNull();
    expect(stepLineText('%%scratch')).toBeNull();
  });
});

describe('parseStepLine', () => {
  it('reads the name and compute target', () => {
    expect(parseStepLine('train --compute gpu')).toMatchObject({ name: 'train', compute: 'gpu', error: null });
    expect(parseStepLine('train --compute=big')).toMatchObject({ compute: 'big' });
  });
  it('defaults to cpu, and to gpu when GPUs are asked for', () => {
    expect(parseStepLine('load').compute).toBe('cpu');
    expect(parseStepLine('train --gpus 0.5')).toMatchObject({ compute: 'gpu', gpus: 0.5 });
    expect(parseStepLine('prep --cpus 4')).toMatchObject({ compute: 'cpu', cpus: 4 });
  });
  it('says what is wrong with a bad line', () => {
    expect(parseStepLine('').error).toMatch(/needs a step name/);
    expect(parseStepLine('--compute gpu').error).toMatch(/before the options/);
    expect(parseStepLine('1abc').error).toMatch(/invalid step name/);
    expect(parseStepLine('my step').error).toMatch(/spaces/);
  });
  it('splits like shlex, with quotes and comments', () => {
    expect(splitArgs(`a --deps "data/x y.csv" # note`)).toEqual(['a', '--deps', 'data/x y.csv']);
    expect(parseStepLine('load  # reads the data').error).toBeNull();
  });
});

describe('classifyCells', () => {
  const code = (source: string, tags: string[] = []) => ({ source, cellType: 'code', tags });
  it('gives each cell its role', () => {
    const roles = classifyCells([
      code('%load_ext jupyter_mlpipe'),
      code('import numpy as np'),
      code('C = 1.0', ['parameters']),
      { source: '# Load', cellType: 'markdown' },
      code('%%step load\nX = np.ones(3)'),
      code('print(X)'),
      code('%%scratch\nX.sum()'),
      code('peek = 1', ['scratch']),
      code('%%step train --compute gpu\nmodel = fit(X)'),
      code('model.score()'),
      code('%pipeline run'),
      code('')
    ]);
    expect(roles.map(r => r.kind)).toEqual([
      'control', 'preamble', 'parameters', 'other', 'step', 'continuation',
      'scratch', 'scratch', 'step', 'continuation', 'control', 'other'
    ]);
    expect(roles[5].step).toBe('load');
    expect(roles[9].step).toBe('train');
    expect(roles[8].line?.compute).toBe('gpu');
  });
  it('keeps the name of a step line that does not parse', () => {
    const roles = classifyCells([code('%%step a b\nx = 1'), code('y = x')]);
    expect(roles[0]).toMatchObject({ kind: 'step', step: 'a' });
    expect(roles[1]).toMatchObject({ kind: 'continuation', step: 'a' });
    expect(roles[0].line?.error).toMatch(/spaces/);
  });
});

describe('suggestStepName', () => {
  it('names what the cell computes, not the first variable it assigns', () => {
    // the quickstart's cells, as their authors named them
    expect(suggestStepName('X, y = load_wine(return_X_y=True)\nprint(X.shape, np.bincount(y))')).toBe('load');
    expect(suggestStepName('X_train, X_test, y_train, y_test = train_test_split(\n    X, y, test_size=test_size)\n' +
      'scaler = StandardScaler().fit(X_train)\nX_train = scaler.transform(X_train)')).toBe('features');
    expect(suggestStepName('model = LogisticRegression(C=C, max_iter=1000)\nmodel.fit(X_train, y_train)')).toBe('train');
    expect(suggestStepName('accuracy = accuracy_score(y_test, model.predict(X_test))')).toBe('evaluate');
    expect(suggestStepName('df = pd.read_csv("data.csv")')).toBe('load');
    expect(suggestStepName('X_train, X_test = train_test_split(X)')).toBe('split');
    expect(suggestStepName('preds = model.predict(X_new)')).toBe('predict');
    expect(suggestStepName('df = df.dropna()')).toBe('clean');
    expect(suggestStepName('df.to_parquet("out.parquet")')).toBe('save');
  });
  it('takes a function it calls, then a descriptive name it assigns; X makes features', () => {
    expect(suggestStepName('model = train_model(X_train, y_train)')).toBe('train_model');
    expect(suggestStepName('X_train, X_test = split(X)')).toBe('split');
    expect(suggestStepName('X = df[["a", "b"]].values\ny = df["c"].values')).toBe('features');
    expect(suggestStepName('df = raw.copy()\nsummary = df.describe()')).toBe('summary');
    expect(suggestStepName('# comment\n%time x = 1\nscore: float = 0.5')).toBe('score');
    expect(suggestStepName('total += 1')).toBe('total');
  });
  it('skips indented lines, comparisons and keywords', () => {
    expect(suggestStepName('if a == 1:\n    inner = 2\nouter = 3')).toBe('outer');
    expect(suggestStepName('print(x == y)')).toBe('step');
  });
  it('falls back to a function or class, then a call, then "step"', () => {
    expect(suggestStepName('def clean(df):\n    return df')).toBe('clean');
    expect(suggestStepName('plt.plot(x)')).toBe('plot');
    expect(suggestStepName('')).toBe('step');
    expect(suggestStepName('42')).toBe('step');
  });
  it('avoids names already taken', () => {
    expect(suggestStepName('model = 1', ['model'])).toBe('model_2');
    expect(suggestStepName('model = 1', ['model', 'model_2'])).toBe('model_3');
  });
  it('always gives a valid step name', () => {
    for (const code of ['é = 1', '_ = 2', 'x' + 'y'.repeat(100) + ' = 1']) {
      expect(invalidStepName(suggestStepName(code))).toBeNull();
    }
  });
});

describe('withStepLine and invalidStepName', () => {
  it('inserts %%step NAME as the first line', () => {
    expect(withStepLine('x = 1\ny = 2', 'prep')).toBe('%%step prep\nx = 1\ny = 2');
    expect(withStepLine('', 'prep')).toBe('%%step prep\n');
  });
  it('replaces an existing step or scratch line', () => {
    expect(withStepLine('%%step old --compute gpu\nx = 1', 'new')).toBe('%%step new\nx = 1');
    expect(withStepLine('%%scratch\nx = 1', 'keep')).toBe('%%step keep\nx = 1');
  });
  it('refuses bad and duplicate names', () => {
    expect(invalidStepName('train')).toBeNull();
    expect(invalidStepName('two words')).toMatch(/letters, digits/);
    expect(invalidStepName('train', ['train'])).toMatch(/already/);
  });
});
