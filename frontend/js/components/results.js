// The results column: count and sort, active filters, "did you mean", the no-results help, the hits.

import { alsoSearchedLine } from '../alsosearched.js';
import { fill, h } from '../dom.js';
import { languageName, t } from '../i18n.js';
import { splitSnippet } from '../snippet.js';
import { activeFilters, clearFilters, safeHref, toggleFilter } from '../url.js';
import { stateLink } from './statelink.js';
import { talkMeta } from './talkmeta.js';

/** The API snippet as text nodes and <mark> elements (never innerHTML). */
export function snippetNodes(snippet) {
  return splitSnippet(snippet).map((s) => (s.mark ? h('mark', {}, s.text) : s.text));
}

function facetLabel(facet, value) {
  return facet === 'lang' ? languageName(value) : value;
}

/** One result; its links carry the talk's id (data-talk) for opened.js. */
function renderHit(hit, state, go) {
  const source = safeHref(hit.url, location.href);
  return h(
    'li',
    { class: 'hit', 'data-testid': 'hit' },
    h('article', { lang: hit.lang || null },
      h('h3', { class: 'hit-title' }, stateLink(go, { ...state, talk: hit.id }, { 'data-nav': '', 'data-talk': hit.id }, hit.title)),
      h('p', { class: 'meta' }, talkMeta(hit)),
      hit.snippet ? h('p', { class: 'snippet' }, snippetNodes(hit.snippet)) : null,
      source ? h('a', { class: 'source', href: source, rel: 'noopener noreferrer', 'data-talk': hit.id, 'aria-label': t('openSource', { title: hit.title }) }, t('source'), ' ↗') : null,
    ),
  );
}

export function createResults({ root, count, sort, chips, notice, list, go, retry }) {
  sort.addEventListener('change', () => go({ ...currentState, sort: sort.value, page: 1 }));
  let currentState = null;

  function renderChips(state) {
    const active = activeFilters(state);
    chips.hidden = !active.length;
    fill(
      chips,
      h('span', { class: 'chips-label' }, t('activeFilters')),
      active.map(({ facet, value }) =>
        stateLink(go, toggleFilter(state, facet, value), { class: 'chip', 'aria-label': t('removeFilter', { facet: t(`facet.${facet}`), value: facetLabel(facet, value) }) },
          h('span', { class: 'chip-facet' }, `${t(`facet.${facet}`)}${t('colon')}`), facetLabel(facet, value), h('span', { class: 'chip-x', 'aria-hidden': 'true' }, ' ×')),
      ),
      active.length > 1 ? stateLink(go, clearFilters(state), { class: 'chip chip-clear' }, t('clearFilters')) : null,
    );
  }

  function renderNotice(state, data) {
    const parts = [];
    if (data.did_you_mean && data.did_you_mean !== state.q) {
      parts.push(h('p', { class: 'did-you-mean' }, `${t('didYouMean')}${t('colon')}`,
        stateLink(go, { ...state, q: data.did_you_mean, page: 1 }, { 'data-testid': 'did-you-mean' }, data.did_you_mean), t('questionMark')));
    }
    if (state.q) {
      parts.push(alsoSearchedLine(data, state.exact, (label, exact) =>
        stateLink(go, { ...state, exact, page: 1 }, { 'data-testid': 'exact-switch' }, label)));
    }
    if (!data.total) {
      const filtered = activeFilters(state).length > 0;
      parts.push(h('div', { class: 'empty', 'data-testid': 'no-results' },
        h('p', { class: 'empty-title' }, state.q ? t('noResultsFor', { q: state.q }) : t('noResults')),
        h('p', {}, t('noResultsHelp')),
        filtered ? stateLink(go, clearFilters(state), { class: 'button' }, t('removeFilters')) : null));
    }
    if (data.total && data.matched === 'any') parts.push(h('p', { class: 'partial' }, t('matchedAny')));
    if (data.total && data.matched === 'some') parts.push(h('p', { class: 'partial' }, t('matchedSome')));
    if (data.partial) parts.push(h('p', { class: 'partial' }, t('partial')));
    fill(notice, parts);
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
      renderNotice(state, data);
      fill(list, (data.hits ?? []).map((hit) => renderHit(hit, state, go)));
    },
    renderError(state, error) {
      currentState = state;
      root.dataset.state = 'error';
      fill(count, '');
      fill(list);
      renderChips(state);
      const detail = error.status === 0 ? t('errorOffline') : error.message;
      fill(notice, h('div', { class: 'error', role: 'alert' },
        h('p', {}, h('strong', {}, t('error')), detail ? `${t('colon')}${detail}` : ''),
        h('button', { type: 'button', class: 'button', onclick: retry }, t('retry'))));
    },
    setBusy(busy) {
      root.setAttribute('aria-busy', String(busy));
    },
  };
}
