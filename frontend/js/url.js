// A view's state (everything the visitor sees) as the search page's URL and as /api/search parameters,
// and the changes filters make. Pure, unit-tested with `node --test`; state.js reads the address bar.
import { FACET_NAMES as FACETS, MAX_FACET_VALUES } from './contracts.js';

export { FACETS };
export const LOCALES = ['fr', 'en'];

export function emptyState(hl = 'fr') {
  const filters = {};
  for (const facet of FACETS) filters[facet] = [];
  // exact: the words as typed only (no translations or synonyms)
  return { q: '', filters, sort: 'relevance', exact: false, page: 1, talk: '', hl };
}

/** Facet values trimmed, no blanks or repeats, as many as the API takes. */
export function cleanValues(values) {
  const seen = new Set();
  for (const value of values) {
    const v = value.trim();
    if (v && !seen.has(v) && seen.size < MAX_FACET_VALUES) seen.add(v);
  }
  return [...seen];
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

/** An href from content: only http(s) links survive (never javascript:, data:). */
export function safeHref(url, base) {
  if (typeof url !== 'string' || !url.trim()) return '';
  try {
    const parsed = new URL(url.trim(), base);
    return parsed.protocol === 'https:' || parsed.protocol === 'http:' ? parsed.href : '';
  } catch {
    return '';
  }
}
