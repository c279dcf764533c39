// What the page and the widget say above the results, and when a search fails.

import { h, stateLink } from '../dom.js';
import { activeFilters, clearFilters } from '../url.js';

/** "Did you mean", then `also` (the view's line of what was also searched), no results, some words only,
 * partial results: about `data`, the answer to `state`. */
export function searchNotes(state, data, view, also = null) {
  const { t } = view.i18n;
  const parts = [];
  if (data.did_you_mean && data.did_you_mean !== state.q) {
    parts.push(h('p', { class: 'did-you-mean' }, `${t('didYouMean')}${t('colon')}`,
      stateLink(view, { ...state, q: data.did_you_mean, page: 1 }, { 'data-testid': 'did-you-mean' }, data.did_you_mean), t('questionMark')));
  }
  parts.push(also);
  if (!data.total) {
    const filtered = activeFilters(state).length > 0;
    parts.push(h('div', { class: 'empty', 'data-testid': 'no-results' },
      h('p', { class: 'empty-title' }, state.q ? t('noResultsFor', { q: state.q }) : t('noResults')),
      h('p', {}, t('noResultsHelp')),
      filtered ? stateLink(view, clearFilters(state), { class: 'button' }, t('removeFilters')) : null));
  }
  if (data.total && data.matched === 'any') parts.push(h('p', { class: 'partial' }, t('matchedAny')));
  if (data.total && data.matched === 'some') parts.push(h('p', { class: 'partial' }, t('matchedSome')));
  if (data.partial) parts.push(h('p', { class: 'partial' }, t('partial')));
  return parts;
}

/** What went wrong (an ApiError), and a button that tries again. */
export function searchError(error, i18n, retry) {
  const { t } = i18n;
  const detail = error.status === 0 ? t('errorOffline') : error.message;
  return h('div', { class: 'error', role: 'alert' },
    h('p', {}, h('strong', {}, t('error')), detail ? `${t('colon')}${detail}` : ''),
    h('button', { type: 'button', class: 'button', onclick: retry }, t('retry')));
}
