// The page's results column: count and sort, active filters, the notes above the results, the hits.

import { fill, h, stateLink } from '../dom.js';
import { activeFilters, clearFilters, safeHref, toggleFilter } from '../url.js';
import { renderHit, searchError, searchNotes } from './hit.js';

export function createResults({ root, count, sort, chips, notice, list, view, retry }) {
  const { i18n } = view;
  const { t } = i18n;
  sort.addEventListener('change', () => view.go({ ...currentState, sort: sort.value, page: 1 }));
  let currentState = null;

  const facetLabel = (facet, value) => (facet === 'lang' ? i18n.languageName(value) : value);

  function renderChips(state) {
    const active = activeFilters(state);
    chips.hidden = !active.length;
    fill(
      chips,
      h('span', { class: 'chips-label' }, t('activeFilters')),
      active.map(({ facet, value }) =>
        stateLink(view, toggleFilter(state, facet, value), { class: 'chip', 'aria-label': t('removeFilter', { facet: t(`facet.${facet}`), value: facetLabel(facet, value) }) },
          h('span', { class: 'chip-facet' }, `${t(`facet.${facet}`)}${t('colon')}`), facetLabel(facet, value), h('span', { class: 'chip-x', 'aria-hidden': 'true' }, ' ×')),
      ),
      active.length > 1 ? stateLink(view, clearFilters(state), { class: 'chip chip-clear' }, t('clearFilters')) : null,
    );
  }

  /** The title opens the talk view, in place. It and the source link carry the talk's id for reportOpensFrom (data-talk). */
  const titleLink = (state, hit) => stateLink(view, { ...state, talk: hit.id }, { 'data-nav': '', 'data-talk': hit.id }, hit.title);

  /** Under the snippet, a link to where the talk was published (http(s) only). */
  function sourceLink(hit) {
    const href = safeHref(hit.url, location.href);
    return href ? h('a', { class: 'source', href, rel: 'noopener noreferrer', 'data-talk': hit.id, 'aria-label': t('openSource', { title: hit.title }) }, t('source'), ' ↗') : null;
  }

  return {
    /** The active filters, as soon as they change (before their results: nothing jumps when they come). */
    showFilters: renderChips,
    render(state, data) {
      currentState = state;
      root.dataset.state = data.total ? 'results' : 'empty';
      fill(count, t('results', { n: data.total ?? 0 }));
      sort.value = state.sort; // the options are in the page from the start: no shift when they arrive
      renderChips(state);
      fill(notice, searchNotes(state, data, view));
      fill(list, (data.hits ?? []).map((hit) => renderHit(hit, titleLink(state, hit), i18n, sourceLink(hit))));
    },
    renderError(state, error) {
      currentState = state;
      root.dataset.state = 'error';
      fill(count, '');
      fill(list);
      renderChips(state);
      fill(notice, searchError(error, i18n, retry));
    },
    setBusy(busy) {
      root.setAttribute('aria-busy', String(busy));
    },
  };
}
