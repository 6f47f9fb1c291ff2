import { cellNumber, errorHeadline, errorText, reusedLabel, runNotice, shortRunId } from '../format';

const ERROR = {
  message: "Step 'train' failed in cell 5: ZeroDivisionError: division by zero\n\nTraceback (most recent call last):\n" +
    '  cell 5, line 2\n    1 / 0\nZeroDivisionError: division by zero',
  ename: 'ZeroDivisionError',
  evalue: 'division by zero',
  traceback: 'Traceback (most recent call last):\n  cell 5, line 2\n    1 / 0\nZeroDivisionError: division by zero',
  cell: 4
};

describe('a step error as words', () => {
  it('is the message the run wrote, never the JSON of the record', () => {
    const text = errorText(ERROR);
    expect(text).toBe(ERROR.message);
    expect(text).not.toContain('"ename"');
    expect(text).not.toContain('{');
  });
  it('adds the traceback when the message has none, and counts cells from 1', () => {
    const text = errorText({ ...ERROR, message: null });
    expect(text.split('\n')[0]).toBe('ZeroDivisionError: division by zero (cell 5)');
    expect(text).toContain('cell 5, line 2');
    expect(errorHeadline(ERROR)).toBe('ZeroDivisionError: division by zero (cell 5)');
    expect(errorHeadline('Step failed\nmore')).toBe('Step failed');
    expect(errorText(null)).toBe('');
    expect(cellNumber(0)).toBe(1);
  });
  it('says which run a reused step comes from', () => {
    expect(shortRunId('20261203-120001-3f9a1c')).toBe('3f9a1c');
    expect(reusedLabel('reused', '20261203-120001-3f9a1c')).toBe('reused from 3f9a1c');
    expect(reusedLabel('reused', null)).toBe('reused');
  });
});

describe('runNotice', () => {
  const run = (status: string, steps: Record<string, any>, error?: string) => ({ id: '20261203-120001-abc123', status, steps, error });
  it('names the failing step and its error, short enough for a notification', () => {
    const notice = runNotice(run('failed', {
      load: { status: 'succeeded' }, train: { status: 'failed', error: ERROR }, evaluate: { status: 'skipped' }
    }))!;
    expect(notice.kind).toBe('error');
    expect(notice.step).toBe('train');
    expect(notice.message).toBe("Pipeline run abc123 failed in step 'train': ZeroDivisionError: division by zero (cell 5)");
    const long = runNotice(run('failed', { a: { status: 'failed', error: { ename: 'E', evalue: 'x'.repeat(400) } } }))!;
    expect(long.message.length).toBeLessThanOrEqual(140);
  });
  it('says how a run that did not fail ended, and nothing while it goes', () => {
    expect(runNotice(run('running', { a: { status: 'running' } }))).toBeNull();
    const ok = runNotice(run('succeeded', { a: { status: 'succeeded' }, b: { status: 'reused' } }))!;
    expect(ok.kind).toBe('success');
    expect(ok.message).toContain('1 succeeded');
    expect(ok.message).toContain('1 reused');
    expect(runNotice(run('cancelled', { a: { status: 'cancelled' } }))!.kind).toBe('warning');
    expect(runNotice(run('failed', {}, 'Ray could not start\nmore'))!.message).toBe('Pipeline run abc123 failed: Ray could not start');
  });
});
