// Links that change the page's state: a real href (a new tab or a copied link gives the same view),
// handled in place on a plain click.

import { h } from '../dom.js';
import { serializeState } from '../url.js';

/** An <a> to the state `next`; a plain click calls `go(next)` instead of loading the page again. */
export function stateLink(go, next, props, ...children) {
  const onclick = (event) => {
    if (event.button || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    go(next);
  };
  return h('a', { ...props, href: serializeState(next) || '?', onclick }, ...children);
}
