// The page: wires the store, the API client and the components together.

import { ApiError, STALE, createApi, reportOpensFrom } from './api.js';
import { createFacets } from './components/facets.js';
import { createFilterPanel } from './components/filterpanel.js';
import { createPager } from './components/pager.js';
import { createResults } from './components/results.js';
import { createSuggestions } from './components/suggestions.js';
import { createTalkView } from './components/talkview.js';
import { config } from './config.js';
import { MAX_PAGE } from './contracts.js';
import { arrowFocus, createSearchBox } from './dom.js';
import { createI18n } from './i18n.js';
import { PAGE_TEXT } from './pagetext.js';
import { createStore, followHistory, parseState, sameSearch } from './state.js';
import { LOCALES, activeFilters, searchParams, serializeState } from './url.js';

const LOCALE_KEY = 'talksearch.hl';
const $ = (selector) => document.querySelector(selector);

/** The interface language chosen on an earlier visit, French otherwise. */
function storedLocale() {
  try {
    const stored = localStorage.getItem(LOCALE_KEY);
    return LOCALES.includes(stored) ? stored : 'fr';
  } catch {
    return 'fr'; // storage can be disabled
  }
}

const api = createApi(config.apiBase);
const store = createStore(parseState(location.search, storedLocale()));
followHistory(store);
const i18n = createI18n(store.get().hl, PAGE_TEXT);
const { t } = i18n;

const resultsView = $('#results-view');
const talkRoot = $('#talk-view');
const announcer = $('#announcer');
const input = $('input[type=search]');
const hint = $('#keyboard-hint');

let typingEntry = false; // the current history entry was made by typing: further typing replaces it
let openedFromResults = false; // the talk view was opened from the results: "back" is history.back()

function go(next, history = 'push') {
  typingEntry = false;
  store.set(next, history);
}

function backToResults(next) {
  if (openedFromResults) window.history.back();
  else go(next);
}

/** What the components need from the page: how to change its state, the link to a state, its language. */
const view = { go, href: (next) => serializeState(next) || '?', i18n };

const form = $('form[role=search]');
const suggestions = createSuggestions({ input, listbox: $('#suggestions'), api, i18n, onChoose: (text) => {
  input.value = text; // searched at once, as Enter would
  form.requestSubmit();
} });
const searchBox = createSearchBox({
  form,
  input,
  suggestions,
  onQuery(q, how) {
    const state = store.get();
    if (q === state.q && !state.talk) return;
    const next = { ...state, q, page: 1, talk: '', exact: false }; // "exact words only" was about the last query
    if (how === 'typing') {
      store.set(next, typingEntry ? 'replace' : 'push');
      typingEntry = true;
    } else go(next, typingEntry ? 'replace' : 'push');
  },
  onLeaveDown: () => navTargets()[0]?.focus(),
});

const results = createResults({
  root: resultsView,
  count: $('[data-testid=count]'),
  sort: $('#sort'),
  chips: $('#chips'),
  notice: $('#notice'),
  list: $('#hits'),
  view,
  retry: () => runSearch(store.get()),
});
const facets = createFacets({ root: $('#facets'), view });
const filterPanel = createFilterPanel({
  details: $('#filters'),
  activeCount: $('#filter-count'),
  done: $('#filters-done'),
  wide: window.matchMedia('(min-width: 48rem)'), // where the filters have room beside the results
  i18n,
});
const pager = createPager({ root: $('#pager'), view });
const talkView = createTalkView({ root: talkRoot, view, back: backToResults });

let shown = null; // {state, data} of the search on screen
let focusCountAfterRender = false; // a new page of results: bring its top into view
reportOpensFrom($('#hits'), config.apiBase, () => shown?.state.q ?? '');

async function runSearch(state) {
  results.setBusy(true);
  try {
    const data = await api.search(searchParams(state, config.pageSize));
    if (data === STALE) return;
    const size = data.size || config.pageSize;
    const lastPage = Math.min(Math.ceil(data.total / size), MAX_PAGE);
    if (!data.hits?.length && data.total > 0 && state.page > lastPage) {
      // a link to a page past the end (the index changed since it was shared): show the last page
      go({ ...state, page: lastPage }, 'replace');
      return;
    }
    shown = { state, data };
    renderSearch();
    if (focusCountAfterRender) $('[data-testid=count]').focus();
    focusCountAfterRender = false;
    announce(state.q ? t('resultsFor', { n: data.total ?? 0, q: state.q }) : t('results', { n: data.total ?? 0 }));
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    shown = null;
    results.renderError(state, error);
    announce(t('error'));
  }
  results.setBusy(false);
}

function renderSearch() {
  results.render(shown.state, shown.data);
  facets.render(shown.state, shown.data);
  filterPanel.render(shown.data);
  pager.render(shown.state, shown.data);
}

/** The keyboard hint of the view on screen (a data-i18n key, so a change of language updates it). */
function showHint(key) {
  hint.dataset.i18n = key;
  hint.textContent = t(key);
}

async function openTalk(state) {
  try {
    const body = await api.get('talk', `/talks/${state.talk.split('/').map(encodeURIComponent).join('/')}`);
    if (body === STALE) return;
    const { related } = talkView.render(state, body);
    showHint(related ? 'keyboardHintTalk' : 'keyboardHintTalkAlone');
    document.title = `${body.title} · ${t('title')}`;
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    talkView.renderError(state, error);
  }
}

function announce(message) {
  announcer.textContent = message;
}

function translatePage() {
  for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll('[data-i18n-attr]')) {
    for (const pair of el.dataset.i18nAttr.split(';')) {
      const [attr, key] = pair.split(':');
      el.setAttribute(attr, t(key));
    }
  }
}

function update(state, previous) {
  if (!previous || state.hl !== previous.hl) {
    i18n.setLocale(state.hl);
    document.documentElement.lang = i18n.locale();
    translatePage();
    if (shown) renderSearch();
  }
  searchBox.sync(state.q);
  const inTalk = Boolean(state.talk);
  resultsView.hidden = inTalk;
  talkRoot.hidden = !inTalk;
  if (inTalk) {
    if (!previous || state.talk !== previous.talk) openedFromResults = Boolean(previous && !previous.talk);
    if (!previous || state.talk !== previous.talk || state.hl !== previous.hl) {
      showHint('keyboardHintTalkAlone'); // until the talk says whether it has related talks
      openTalk(state);
    }
  } else {
    openedFromResults = false;
    showHint('keyboardHint');
    focusCountAfterRender = Boolean(
      previous && !previous.talk && state.page !== previous.page && sameSearch({ ...state, page: previous.page }, previous),
    );
    if (!shown || !sameSearch(state, shown.state)) {
      results.showFilters(state);
      runSearch(state);
    } else if (previous?.talk) {
      renderSearch(); // back from a talk: same search, put focus back on the talk's link
      const link = [...document.querySelectorAll('#hits [data-nav]')].find((a) => new URLSearchParams(a.search).get('talk') === previous.talk);
      link?.focus();
    }
  }
  filterPanel.setActive(activeFilters(state).length);
  if (!inTalk) document.title = state.q ? `${state.q} · ${t('title')}` : t('title');
}

/** The links the arrow keys move through in the view on screen. */
function focusSearch() {
  input.focus();
  input.select();
}

function navTargets() {
  const view = store.get().talk ? talkRoot : $('#hits');
  return [...view.querySelectorAll('[data-nav]')];
}

document.addEventListener('keydown', (event) => {
  if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
  if (arrowFocus(event, navTargets(), () => focusSearch())) return;
  const editing = event.target.matches('input:not([type=checkbox]), select, textarea, [contenteditable]');
  if (event.key === '/' && !editing) {
    event.preventDefault();
    focusSearch();
  } else if (event.key === 'Escape' && !editing) {
    if (store.get().talk) backToResults({ ...store.get(), talk: '' });
    else focusSearch();
  }
});

$('#locale').addEventListener('click', () => {
  const hl = i18n.locale() === 'fr' ? 'en' : 'fr';
  try {
    localStorage.setItem(LOCALE_KEY, hl);
  } catch {
    // not remembered across visits, still switched now
  }
  go({ ...store.get(), hl }, 'replace');
});

store.on(update);
update(store.get(), null);
