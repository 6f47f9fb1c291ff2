/**
 * The side panel graph's zoom, in numbers (pure): never so small that text is under
 * MIN_TEXT px; what does not fit at that zoom is panned (drag, scroll), not shrunk.
 */

/** No text of the graph is drawn smaller than this many pixels on screen. */
export const MIN_TEXT = 11;
/** The graph's smallest font, in px (style/base.css: a node's second line). */
export const SMALLEST_FONT = 12;
export const MIN_ZOOM = MIN_TEXT / SMALLEST_FONT;
export const MAX_ZOOM = 2;
/** One press of + or −. */
export const ZOOM_STEP = 1.25;

export function clampZoom(zoom: number): number {
  if (!Number.isFinite(zoom)) {
    return 1;
  }
  return Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, zoom));
}

/** The zoom that fits a graph `graphWidth` wide into `room` px: at most 100%, at least MIN_ZOOM. */
export function fitZoom(graphWidth: number, room: number): number {
  if (!(room > 0) || !(graphWidth > 0)) {
    return 1;
  }
  return clampZoom(Math.min(1, room / graphWidth));
}

/** A box (graph units) at `zoom`: the scroll position that shows it, moving `scroll` as little as possible. */
export function revealScroll(
  box: { x: number; y: number; width: number; height: number },
  zoom: number,
  scroll: { left: number; top: number },
  view: { width: number; height: number },
  margin = 8
): { left: number; top: number } {
  const along = (start: number, size: number, at: number, room: number): number => {
    const lo = start * zoom - margin;
    const hi = (start + size) * zoom + margin;
    if (lo < at) {
      return Math.max(0, lo);
    }
    if (hi > at + room) {
      return Math.max(0, Math.min(lo, hi - room));
    }
    return at;
  };
  return {
    left: along(box.x, box.width, scroll.left, view.width),
    top: along(box.y, box.height, scroll.top, view.height)
  };
}
