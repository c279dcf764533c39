// A tiny DOM builder: h('a', {href, class: 'x', onclick: fn}, 'text', child). Children that are not
// nodes become text nodes, so strings from the API can never turn into markup. And the views' helpers,
// the search box among them (the page's and the widget's).

export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value == null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/** Replace every child of `el` (strings become text). */
export function fill(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** An <a> to the state `next`: a real href (a new tab gets the same view), a plain click `view.go(next)`. */
export function stateLink(view, next, props, ...children) {
  const onclick = (event) => {
    if (event.button || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    view.go(next);
  };
  return h('a', { ...props, href: view.href(next), onclick }, ...children);
}

/** The focused element where `node` lives (its document, or its shadow root inside a web component). */
export function activeElement(node) {
  return node.getRootNode().activeElement;
}

/** ↓ ↑ from one of `targets` to the next or previous; ↑ from the first calls `top()`, ↓ from the last is
 * left alone (the page scrolls). True when it moved the focus. */
export function arrowFocus(event, targets, top) {
  const step = { ArrowDown: 1, ArrowUp: -1 }[event.key];
  const index = targets.indexOf(event.target);
  if (!step || index < 0 || index + step >= targets.length) return false;
  event.preventDefault();
  if (index + step < 0) top();
  else targets[index + step].focus();
  return true;
}

export function debounce(fn, ms) {
  let timer = 0;
  const run = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
  run.cancel = () => clearTimeout(timer);
  return run;
}

// The search box: search as you type (debounced), ↓ down to the results, Enter (or the form submitted)
// searches at once, Esc clears. The page gives it suggestions (suggestions.js), which see the keys first.

const SEARCH_DELAY = 250; // ms of quiet typing before a search

/** `onQuery(q, how)`, how: 'typing' or 'submit'. Esc asks `onEscape()` (true: it used the key), then clears. */
export function createSearchBox({ form, input, suggestions = null, onQuery, onLeaveDown, onEscape = () => false }) {
  let typing = false; // the box holds text the state does not have yet

  const commitSoon = debounce(() => commit('typing'), SEARCH_DELAY);

  function commit(how) {
    commitSoon.cancel();
    typing = false;
    onQuery(input.value.trim(), how);
  }

  input.addEventListener('input', () => {
    typing = true;
    commitSoon();
    suggestions?.update(input.value.trim());
  });

  input.addEventListener('keydown', (event) => {
    if (suggestions?.key(event)) return;
    if (event.key === 'ArrowDown') {
      event.preventDefault();
      onLeaveDown();
    } else if (event.key === 'Escape') {
      event.preventDefault();
      if (!onEscape() && input.value) {
        input.value = '';
        commit('submit');
      }
    }
  });

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    suggestions?.close();
    commit('submit');
  });

  return {
    /** Show the state's query unless the visitor is typing something newer. */
    sync(q) {
      if (!typing && input.value !== q) input.value = q;
    },
  };
}
