// A tiny store (get / set / on) kept in step with the address bar: every change is written to the
// URL (pushed as a new history entry or replacing the current one), and back/forward set it back.

import { parseState, serializeState } from './url.js';

export function createStore(initial) {
  let state = initial;
  const listeners = new Set();
  return {
    get: () => state,
    /** history: 'push' (a new entry), 'replace' (same entry), or 'none' (the URL already says it). */
    set(next, history = 'push') {
      const previous = state;
      state = next;
      const search = serializeState(state);
      if (history !== 'none' && search !== location.search) {
        const url = `${location.pathname}${search}${location.hash}`;
        if (history === 'push') window.history.pushState(null, '', url);
        else window.history.replaceState(null, '', url);
      }
      for (const listener of listeners) listener(state, previous);
    },
    on(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/** Follow back/forward: the URL is the truth (the interface language stays unless it says otherwise). */
export function followHistory(store) {
  window.addEventListener('popstate', () => store.set(parseState(location.search, store.get().hl), 'none'));
}
