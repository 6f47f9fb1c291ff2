import { chartData, chartNumber, restMetrics, stepChartSpecs } from '../chart';

describe('metric charts in the side panel', () => {
  const metrics = restMetrics({
    forest: { test_accuracy: [{ index: 10, value: 0.91, ts: 1 }, { index: 20, value: 0.94, ts: 2 }] },
    boosting: { test_accuracy: [{ index: 1, value: 0.6, ts: 1 }, { index: 20, value: null, ts: 2 }], loss: [{ index: 1, value: 2, ts: 1 }] },
    logreg: { cv_accuracy: [{ index: 0, value: 0.95, ts: 1 }] }
  });

  it('reads the REST points, a value that is not a number as a gap', () => {
    expect(metrics.boosting.test_accuracy).toEqual([[1, 0.6], [20, null]]);
    expect(restMetrics(null)).toEqual({});
    expect(restMetrics({ s: { m: 'no' } })).toEqual({});
  });

  it('charts each metric of a step with the other steps that log it, the step first', () => {
    const specs = stepChartSpecs(metrics, ['logreg', 'boosting', 'forest'], 'forest');
    expect(specs.map(s => s.key)).toEqual(['test_accuracy']);
    expect(specs[0].series.map(s => s.label)).toEqual(['forest', 'boosting']);
    expect(specs[0].head).toBe('test_accuracy = 0.94');
    expect(stepChartSpecs(metrics, [], 'data')).toEqual([]);
  });

  it('aligns the series on the union of their steps', () => {
    const spec = stepChartSpecs(metrics, ['boosting', 'forest'], 'forest')[0];
    expect(chartData(spec.series)).toEqual([[1, 10, 20], [null, 0.91, 0.94], [0.6, null, null]]);
    expect(chartNumber(0.123456)).toBe('0.1235');
    expect(chartNumber(null)).toBe('–');
  });
});
