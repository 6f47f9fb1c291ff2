import { MAX_ZOOM, MIN_TEXT, MIN_ZOOM, SMALLEST_FONT, clampZoom, fitZoom, revealScroll } from '../zoom';

describe('the side panel graph zoom', () => {
  it('never makes the smallest text smaller than 11 px', () => {
    expect(MIN_TEXT).toBe(11);
    expect(SMALLEST_FONT * clampZoom(0.1)).toBeCloseTo(11);
    expect(SMALLEST_FONT * fitZoom(790, 250)).toBeGreaterThanOrEqual(11 - 1e-9);
    expect(clampZoom(10)).toBe(MAX_ZOOM);
    expect(clampZoom(Number.NaN)).toBe(1);
  });

  it('fits a narrow graph at 100% and a wide one as far as text allows', () => {
    expect(fitZoom(208, 250)).toBe(1);
    expect(fitZoom(260, 250)).toBeCloseTo(250 / 260);
    expect(fitZoom(790, 250)).toBe(MIN_ZOOM);
    expect(fitZoom(790, 0)).toBe(1);
  });

  it('scrolls just enough to show a box', () => {
    const node = { x: 600, y: 100, width: 176, height: 52 };
    const view = { width: 240, height: 300 };
    // to the right of the view: its right edge (plus a margin) comes to the view's right edge
    expect(revealScroll(node, 1, { left: 0, top: 0 }, view)).toEqual({ left: 600 + 176 + 8 - 240, top: 0 });
    // wider than the view: its left edge shows
    expect(revealScroll({ ...node, width: 400 }, 1, { left: 0, top: 0 }, view).left).toBe(592);
    // already in view: nothing moves
    expect(revealScroll({ x: 10, y: 10, width: 50, height: 20 }, 1, { left: 0, top: 0 }, view)).toEqual({ left: 0, top: 0 });
    // zoomed: in screen pixels
    expect(revealScroll(node, 0.5, { left: 400, top: 0 }, view).left).toBe(292);
  });
});
