/**
 * The side panel graph's zoom and pan in the DOM: the −, level, +, fit buttons, drag to pan and
 * Ctrl/⌘ + wheel to zoom. The numbers (limits, the fit, the scroll that reveals a node) are zoom.ts's;
 * the zoom itself is the panel's (panel.ts), which draws the graph again at each.
 */

import { el } from './dom';
import { MAX_ZOOM, MIN_TEXT, MIN_ZOOM, ZOOM_STEP } from './zoom';

/** The panel's zoom: what it is now, how to change it, where a drag left the view. */
export interface IZoomHost {
  /** The zoom the graph is drawn at now. */
  zoom(): number;
  /** Zoom to `zoom` around the middle of the graph's view (`null`: fit it again). */
  zoomTo(zoom: number | null): void;
  /** A drag ended: the view's pan now. */
  panned(scroll: { left: number; top: number }): void;
}

/** −, the zoom level, +, fit: text never under MIN_TEXT px; what does not fit pans (drag, scroll). */
export function zoomTools(host: IZoomHost): HTMLElement {
  const zoom = host.zoom();
  const button = (role: string, label: string, title: string, onClick: () => void, disabled: boolean): HTMLElement => {
    const b = el('button', { class: 'jp-mod-styled mlps-zoom-button', type: 'button', 'data-role': role, title }, label);
    if (disabled) {
      b.setAttribute('disabled', 'true');
    }
    b.addEventListener('click', onClick);
    return b;
  };
  return el('div', { class: 'mlps-zoom', role: 'group', 'aria-label': 'zoom' },
    button('zoom-out', '−', `Zoom out (text stays at least ${MIN_TEXT} px)`,
      () => host.zoomTo(host.zoom() / ZOOM_STEP), zoom <= MIN_ZOOM + 1e-3),
    el('span', { class: 'mlps-zoom-level', 'data-role': 'zoom-level', title: 'Ctrl + wheel zooms, drag pans' },
      `${Math.round(zoom * 100)}%`),
    button('zoom-in', '+', 'Zoom in', () => host.zoomTo(host.zoom() * ZOOM_STEP), zoom >= MAX_ZOOM - 1e-3),
    button('fit', 'fit', `Fit the graph to the panel (text stays at least ${MIN_TEXT} px: drag or scroll to see the rest)`,
      () => host.zoomTo(null), false));
}

/** Drag to pan (a click without moving still selects a step); Ctrl/⌘ + wheel zooms. */
export function panAndZoom(view: HTMLElement, host: IZoomHost): void {
  let drag: { id: number; x: number; y: number; left: number; top: number; moved: boolean } | null = null;
  let dragged = false;
  view.addEventListener('pointerdown', (event: PointerEvent) => {
    if (event.button === 0) {
      drag = { id: event.pointerId, x: event.clientX, y: event.clientY, left: view.scrollLeft, top: view.scrollTop, moved: false };
    }
  });
  view.addEventListener('pointermove', (event: PointerEvent) => {
    if (!drag || event.pointerId !== drag.id) {
      return;
    }
    const [dx, dy] = [event.clientX - drag.x, event.clientY - drag.y];
    if (!drag.moved && Math.abs(dx) + Math.abs(dy) < 5) {
      return;
    }
    if (!drag.moved) {
      drag.moved = true;
      view.classList.add('mlps-dragging');
      view.setPointerCapture?.(event.pointerId);
    }
    view.scrollLeft = drag.left - dx;
    view.scrollTop = drag.top - dy;
  });
  const end = (): void => {
    dragged = !!drag?.moved;
    drag = null;
    view.classList.remove('mlps-dragging');
    host.panned({ left: view.scrollLeft, top: view.scrollTop });
  };
  view.addEventListener('pointerup', end);
  view.addEventListener('pointercancel', end);
  view.addEventListener('click', (event: Event) => {
    if (dragged) {  // the click that ends a drag selects nothing
      event.stopPropagation();
      dragged = false;
    }
  }, true);
  view.addEventListener('wheel', (event: WheelEvent) => {
    if (event.ctrlKey || event.metaKey) {
      event.preventDefault();
      host.zoomTo(host.zoom() * Math.exp(-event.deltaY / 400));
    }
  }, { passive: false });
}
