// The page's state: read from the address bar (parseState), and a tiny store (get / set / on) kept in
// step with it: every change is written to the URL (pushed as a new history entry or replacing the
// current one), and back/forward set it back. parseState and sameSearch are pure (tests/js/url.test.mjs).

// The API's sorts and bounds come from contracts.js, generated from the Python side: a URL outside them
// is clamped rather than sent to fail.
import { MAX_PAGE, MAX_QUERY_CHARS, SORTS } from './contracts.js';
import { FACETS, LOCALES, cleanValues, emptyState, searchParams, serializeState } from './url.js';

/** Read a state from `location.search`; anything malformed falls back to the default. */
export function parseState(search, defaultLocale = 'fr') {
  const params = new URLSearchParams(search);
  const state = emptyState(defaultLocale);
  state.q = (params.get('q') || '').slice(0, MAX_QUERY_CHARS);
  for (const facet of FACETS) state.filters[facet] = cleanValues(params.getAll(facet));
  if (SORTS.includes(params.get('sort'))) state.sort = params.get('sort');
  state.exact = params.get('exact') === '1';
  const page = Number.parseInt(params.get('page') || '1', 10);
  state.page = Number.isFinite(page) ? Math.min(Math.max(page, 1), MAX_PAGE) : 1;
  state.talk = params.get('talk') || '';
  if (LOCALES.includes(params.get('hl'))) state.hl = params.get('hl');
  return state;
}

/** True when two states ask the API the same search (the talk view and locale do not count). */
export function sameSearch(a, b) {
  return searchParams(a, 0).toString() === searchParams(b, 0).toString();
}

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
