// Links that change a view's state: a real href (a new tab or a copied link gives the same view: the
// page links to itself, the widget to the search page), handled in place on a plain click.

import { h } from '../dom.js';

/** An <a> to the state `next`; a plain click calls `view.go(next)` instead of following `view.href(next)`. */
export function stateLink(view, next, props, ...children) {
  const onclick = (event) => {
    if (event.button || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    view.go(next);
  };
  return h('a', { ...props, href: view.href(next), onclick }, ...children);
}
