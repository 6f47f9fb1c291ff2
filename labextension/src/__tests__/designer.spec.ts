import { mergeStep, newStepAfter, splitStep, toggleScratch } from '../designops';
import { formatSize } from '../format';
import { ICellInfo, splitArgs } from '../stepline';
import { FORM_FIELDS, formValues, quote, setOption, tokenize, withLineText } from '../stepoptions';

const code = (...sources: string[]): ICellInfo[] => sources.map(source => ({ source, cellType: 'code' }));

describe('formValues', () => {
  it('reads every option of the form, the last occurrence winning', () => {
    const v = formValues('train --compute gpu --gpus 2 --cpus=0.5 --memory "4 GB" --retries 1 --timeout 30 --no-cache --env torch --gpus 3');
    expect(v).toEqual({
      '--compute': 'gpu', '--gpus': '3', '--cpus': '0.5', '--memory': '4 GB', '--retries': '1',
      '--timeout': '30', '--no-cache': 'true', '--env': 'torch'
    });
    expect(formValues('train')['--gpus']).toBe('');
    expect(formValues('train  # --gpus 2')['--gpus']).toBe('');
  });
});

describe('setOption', () => {
  const fan = 'fit --foreach models --as name --deps "data/a b.csv"';

  it.each(FORM_FIELDS.filter(f => f.kind !== 'switch').map(f => [f.flag]))('adds, changes and removes %s, keeping the other flags', flag => {
    const added = setOption(fan, flag as any, '7');
    expect(added).toBe(`${fan} ${flag} 7`);
    const changed = setOption(added, flag as any, '8');
    expect(changed).toBe(`${fan} ${flag} 8`);
    expect(setOption(changed, flag as any, '')).toBe(fan);
    expect(formValues(changed)[flag as keyof ReturnType<typeof formValues>]).toBe('8');
  });

  it('changes a value where it stands, in the form it was written', () => {
    expect(setOption('train --gpus 1 --foreach xs --as x', '--gpus', '2')).toBe('train --gpus 2 --foreach xs --as x');
    expect(setOption('train --gpus=1 --as x', '--gpus', '0.5')).toBe('train --gpus=0.5 --as x');
    expect(setOption("train --env 'old env' --deps x", '--env', 'torch')).toBe('train --env torch --deps x');
  });

  it('removes earlier repeats and the blank before a removed flag', () => {
    expect(setOption('train --gpus 1 --cpus 2 --gpus 3', '--gpus', '4')).toBe('train --cpus 2 --gpus 4');
    expect(setOption('train --gpus 1 --cpus 2 --gpus 3', '--gpus', '')).toBe('train --cpus 2');
    expect(setOption('train   --gpus 1', '--gpus', '')).toBe('train');
  });

  it('turns the --no-cache switch on and off', () => {
    expect(setOption('train --gpus 1', '--no-cache', 'true')).toBe('train --gpus 1 --no-cache');
    expect(setOption('train --no-cache --gpus 1', '--no-cache', '')).toBe('train --gpus 1');
    expect(setOption('train --no-cache', '--no-cache', 'true')).toBe('train --no-cache');
  });

  it('puts a new flag before a comment and keeps the comment', () => {
    expect(setOption('train --deps a.csv  # the big one', '--gpus', '1')).toBe('train --deps a.csv --gpus 1  # the big one');
    expect(setOption('train #note', '--retries', '2')).toBe('train --retries 2 #note');
  });

  it('quotes what the shell would split, so the parser reads the value back', () => {
    for (const value of ['4 GB', "it's", 'a"b', '#x', '']) {
      const line = setOption('train', '--memory', value);
      if (value === '') {
        expect(line).toBe('train');
      } else {
        expect(splitArgs(line)).toEqual(['train', '--memory', value]);
        expect(formValues(line)['--memory']).toBe(value);
      }
    }
    expect(quote('4GB')).toBe('4GB');
    expect(quote('a b')).toBe("'a b'");
  });

  it('keeps quoted words of other flags as written', () => {
    const line = `train --deps 'a b.csv,c.csv' --foreach "xs" --as x`;
    expect(setOption(line, '--cpus', '2')).toBe(`${line} --cpus 2`);
    expect(tokenize(line).tokens.map(t => t.value)).toEqual(['train', '--deps', 'a b.csv,c.csv', '--foreach', 'xs', '--as', 'x']);
  });
});

describe('withLineText', () => {
  it('replaces only the first line of a step cell', () => {
    expect(withLineText('%%step train --gpus 1\nfit()\n', 'train --gpus 2')).toBe('%%step train --gpus 2\nfit()\n');
    expect(withLineText('\n%%step train', 'train --no-cache')).toBe('\n%%step train --no-cache');
    expect(() => withLineText('x = 1', 'train')).toThrow('does not start with a %%step line');
  });
});

describe('splitStep and mergeStep', () => {
  const cells = code('import os', '%%step load\nxs = [1]', 'ys = [x + 1 for x in xs]\nmodel.fit(xs, ys)', '%%step report\nprint(ys)');

  it('split puts a %%step line with a suggested, unique name on the selected cell', () => {
    const r = splitStep(cells, 2);
    expect(r).toEqual({ ok: true, edit: { kind: 'source', cell: 2, source: '%%step train\n' + cells[2].source, note: 'train' } });
    const taken = code('%%step train\nx = 1', 'model.fit(X, y)');
    expect((splitStep(taken, 1) as any).edit.note).toBe('train_2');
  });

  it('split then merge gives back the original text', () => {
    for (const source of ['ys = [x + 1 for x in xs]\nmodel = fit(ys)', '\n\nz = 1', '']) {
      const nb = code('%%step load\nxs = [1]', source || 'pass');
      nb[1].source = source || 'y = 2';
      const split = splitStep(nb, 1);
      expect(split.ok).toBe(true);
      const after = nb.map((c, i) => (i === 1 ? { ...c, source: (split as any).edit.source } : c));
      const merged = mergeStep(after, 1);
      expect(merged.ok).toBe(true);
      expect((merged as any).edit).toMatchObject({ kind: 'source', cell: 1, source: nb[1].source, note: 'load' });
    }
  });

  it('merge removes the step line and says which options go with it', () => {
    const nb = code('%%step a\nx = 1', '%%step b --gpus 1 --no-cache\ny = x', 'z = y');
    expect(mergeStep(nb, 2)).toEqual({ ok: true, edit: { kind: 'source', cell: 1, source: 'y = x', note: 'a', dropped: ['--gpus', '1', '--no-cache'] } });
  });

  it('refuses what it cannot do, saying why', () => {
    const refusal = (r: any) => (r.ok ? 'accepted' : r.message);
    expect(refusal(splitStep(cells, 1))).toContain("already starts step 'load'");
    expect(refusal(splitStep(cells, 0))).toContain('preamble');
    expect(refusal(mergeStep(cells, 1))).toContain("'load' is the first step");
    expect(refusal(mergeStep(cells, 0))).toContain('Select a cell of a step');
    const fan = code('%%step a\nxs = [1, 2]', '%%step each --foreach xs --as x\ny = x * 2', 'z = y', '%%step c\nprint(z)');
    expect(refusal(splitStep(fan, 2))).toContain("'each' is a fan-out step (--foreach)");
    expect(refusal(mergeStep(fan, 1))).toContain("'each' is a fan-out step");
    expect(refusal(mergeStep(fan, 3))).toContain("'each' is a fan-out step");
    const mod = code('%%step a\nx = 1', '%%step feats --module lib/features.ipynb\nsource = x');
    expect(refusal(mergeStep(mod, 1))).toContain('a module step (--module)');
    const after = code('%%step a\nx = 1', '%%step b\ny = 2', '%%step c --after a,b\nprint(x)');
    expect(refusal(mergeStep(after, 1))).toContain("Step 'c' runs --after b");
  });
});

describe('toggleScratch and newStepAfter', () => {
  it('marks and unmarks a cell scratch, refusing a step cell and a tagged cell', () => {
    const nb = code('%%step a\nx = 1', 'plot(x)');
    const marked = toggleScratch(nb, 1) as any;
    expect(marked.edit.source).toBe('%%scratch\nplot(x)');
    expect((toggleScratch(code('%%step a\nx = 1', marked.edit.source), 1) as any).edit.source).toBe('plot(x)');
    expect((toggleScratch(nb, 0) as any).message).toContain("starts step 'a'");
    const tagged = [{ source: 'plot(x)', cellType: 'code', tags: ['scratch'] }];
    expect((toggleScratch(tagged, 0) as any).message).toContain('"scratch" tag');
  });

  it('inserts a new step after the last cell of the step, with an unused name', () => {
    const nb = code('%%step step\nx = 1', 'y = x', '%%scratch\nplot(y)', '%%step b\nz = y');
    expect(newStepAfter(nb, 0)).toEqual({ ok: true, edit: { kind: 'insert', insertAt: 2, source: '%%step step_2\n', name: 'step_2' } });
    expect((newStepAfter(nb, 3) as any).edit.insertAt).toBe(4);
    expect((newStepAfter(code('import os'), 0) as any).edit.insertAt).toBe(1);
  });
});

describe('formatSize', () => {
  it('says a stored value size in bytes, kB, MB', () => {
    expect(formatSize(512)).toBe('512 B');
    expect(formatSize(1234)).toBe('1.2 kB');
    expect(formatSize(45_600_000)).toBe('46 MB');
    expect(formatSize(null)).toBe('');
  });
});
