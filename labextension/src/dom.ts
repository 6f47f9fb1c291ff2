/** Small DOM helpers of the side panel's drawing (panel.ts and the modules that draw its parts). */

const SVG_NS = 'http://www.w3.org/2000/svg';

/** An HTML element with these attributes and children. */
export function el(tag: string, attrs: Record<string, string> = {}, ...children: (Node | string)[]): HTMLElement {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    node.setAttribute(k, v);
  }
  node.append(...children);
  return node;
}

/** An SVG element with these attributes and children. */
export function svg(tag: string, attrs: Record<string, string | number> = {}, ...children: (Node | string)[]): SVGElement {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    node.setAttribute(k, String(v));
  }
  node.append(...children);
  return node;
}

/** At most `n` characters, an ellipsis at the end when cut. */
export function truncate(text: string, n: number): string {
  return text.length <= n ? text : text.slice(0, n - 1) + '…';
}

/** A click, Enter or Space on `target` (a node with role="button") calls `act`. */
export function onActivate(target: Element, act: () => void): void {
  target.addEventListener('click', act);
  target.addEventListener('keydown', (event: Event) => {
    const key = (event as KeyboardEvent).key;
    if (key === 'Enter' || key === ' ') {
      event.preventDefault();
      act();
    }
  });
}
