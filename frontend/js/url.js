// The page's state <-> its URL. Pure functions (no DOM), so they are unit-tested with `node --test`.
// One state object describes everything the visitor sees; the URL is its shareable form.

// The API's facets, sorts and bounds come from contracts.js, generated from the Python side: a URL
// outside the bounds is clamped rather than sent to fail.
import { FACET_NAMES as FACETS, MAX_FACET_VALUES, MAX_PAGE, MAX_QUERY_CHARS, SORTS } from './contracts.js';

export { FACETS, MAX_PAGE, MAX_QUERY_CHARS, SORTS };
export const LOCALES = ['fr', 'en'];

export function emptyState(hl = 'fr') {
  const filters = {};
  for (const facet of FACETS) filters[facet] = [];
  // exact: the words as typed only (no translations or synonyms)
  return { q: '', filters, sort: 'relevance', exact: false, page: 1, talk: '', hl };
}

function cleanValues(values) {
  const seen = new Set();
  for (const value of values) {
    const v = value.trim();
    if (v && !seen.has(v) && seen.size < MAX_FACET_VALUES) seen.add(v);
  }
  return [...seen];
}

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

/** The query string of a state ('' for the default view), defaults left out so links stay short. */
export function serializeState(state, defaultLocale = 'fr') {
  const params = new URLSearchParams();
  if (state.q) params.set('q', state.q);
  for (const facet of FACETS) for (const value of state.filters[facet] || []) params.append(facet, value);
  if (state.sort !== 'relevance') params.set('sort', state.sort);
  if (state.exact) params.set('exact', '1');
  if (state.page > 1) params.set('page', String(state.page));
  if (state.talk) params.set('talk', state.talk);
  if (state.hl !== defaultLocale) params.set('hl', state.hl);
  const text = params.toString();
  return text ? `?${text}` : '';
}

/** The /api/search parameters for a state. */
export function searchParams(state, size) {
  const params = new URLSearchParams({ q: state.q, page: String(state.page), size: String(size) });
  for (const facet of FACETS) for (const value of state.filters[facet]) params.append(facet, value);
  if (state.sort !== 'relevance') params.set('sort', state.sort);
  if (state.exact) params.set('exact', '1');
  return params;
}

/** True when two states ask the API the same search (the talk view and locale do not count). */
export function sameSearch(a, b) {
  return searchParams(a, 0).toString() === searchParams(b, 0).toString();
}

export function activeFilters(state) {
  return FACETS.flatMap((facet) => state.filters[facet].map((value) => ({ facet, value })));
}

/** A state with `value` added to or removed from one facet; filtering always restarts at page 1. */
export function toggleFilter(state, facet, value) {
  const current = state.filters[facet];
  const next = current.includes(value) ? current.filter((v) => v !== value) : cleanValues([...current, value]);
  return { ...state, filters: { ...state.filters, [facet]: next }, page: 1 };
}

export function clearFilters(state) {
  return { ...state, filters: emptyState().filters, page: 1 };
}

/** An href for text that came from content: only http(s) links survive, anything else (javascript:, data:) is dropped. */
export function safeHref(url, base) {
  if (typeof url !== 'string' || !url.trim()) return '';
  try {
    const parsed = new URL(url.trim(), base);
    return parsed.protocol === 'https:' || parsed.protocol === 'http:' ? parsed.href : '';
  } catch {
    return '';
  }
}
