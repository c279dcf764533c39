// The page: wires the store, the API client and the components together.

import { ApiError, STALE, createApi } from './api.js';
import { createFacets } from './components/facets.js';
import { createPager } from './components/pager.js';
import { createResults } from './components/results.js';
import { createSearchBox } from './components/searchbox.js';
import { createTalkView } from './components/talkview.js';
import { config } from './config.js';
import { $ } from './dom.js';
import { locale, setLocale, t } from './i18n.js';
import { createStore, followHistory } from './state.js';
import { LOCALES, MAX_PAGE, activeFilters, parseState, sameSearch, searchParams } from './url.js';

const LOCALE_KEY = 'talksearch.hl';

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

const resultsView = $('#results-view');
const talkRoot = $('#talk-view');
const announcer = $('#announcer');
const input = $('input[type=search]');

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

const searchBox = createSearchBox({
  form: $('form[role=search]'),
  input,
  listbox: $('#suggestions'),
  api,
  onQuery(q, how) {
    const state = store.get();
    if (q === state.q && !state.talk) return;
    const next = { ...state, q, page: 1, talk: '' };
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
  go,
  retry: () => runSearch(store.get()),
});
const facets = createFacets({ root: $('#facets'), go });
const pager = createPager({ root: $('#pager'), go });
const talkView = createTalkView({ root: talkRoot, go, back: backToResults });

let shown = null; // {state, data} of the search on screen
let focusCountAfterRender = false; // a new page of results: bring its top into view

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
  pager.render(shown.state, shown.data);
}

async function openTalk(state) {
  try {
    const body = await api.talk(state.talk);
    if (body === STALE) return;
    talkView.render(state, body);
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
    setLocale(state.hl);
    translatePage();
    if (shown) renderSearch();
  }
  searchBox.sync(state.q);
  const inTalk = Boolean(state.talk);
  resultsView.hidden = inTalk;
  talkRoot.hidden = !inTalk;
  if (inTalk) {
    if (!previous || state.talk !== previous.talk) openedFromResults = Boolean(previous && !previous.talk);
    if (!previous || state.talk !== previous.talk || state.hl !== previous.hl) openTalk(state);
  } else {
    openedFromResults = false;
    focusCountAfterRender = Boolean(
      previous && !previous.talk && state.page !== previous.page && sameSearch({ ...state, page: previous.page }, previous),
    );
    if (!shown || !sameSearch(state, shown.state)) runSearch(state);
    else if (previous?.talk) {
      renderSearch(); // back from a talk: same search, put focus back on the talk's link
      const link = [...document.querySelectorAll('#hits [data-nav]')].find((a) => new URLSearchParams(a.search).get('talk') === previous.talk);
      link?.focus();
    }
  }
  const filtered = activeFilters(state).length;
  $('#filter-count').textContent = filtered ? `(${filtered})` : '';
  if (!inTalk) document.title = state.q ? `${state.q} · ${t('title')}` : t('title');
}

/** The links the arrow keys move through in the view on screen. */
function navTargets() {
  const view = store.get().talk ? talkRoot : $('#hits');
  return [...view.querySelectorAll('[data-nav]')];
}

document.addEventListener('keydown', (event) => {
  if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
  const target = event.target;
  const editing = target.matches('input:not([type=checkbox]), select, textarea, [contenteditable]');
  if (event.key === '/' && !editing) {
    event.preventDefault();
    searchBox.focus();
  } else if ((event.key === 'ArrowDown' || event.key === 'ArrowUp') && target.matches('[data-nav]')) {
    event.preventDefault();
    const targets = navTargets();
    const index = targets.indexOf(target) + (event.key === 'ArrowDown' ? 1 : -1);
    if (index < 0) searchBox.focus();
    else targets[Math.min(index, targets.length - 1)]?.focus();
  } else if (event.key === 'Escape' && !editing) {
    if (store.get().talk) backToResults({ ...store.get(), talk: '' });
    else searchBox.focus();
  }
});

$('#locale').addEventListener('click', () => {
  const hl = locale() === 'fr' ? 'en' : 'fr';
  try {
    localStorage.setItem(LOCALE_KEY, hl);
  } catch {
    // not remembered across visits, still switched now
  }
  go({ ...store.get(), hl }, 'replace');
});

// Filters start open where there is room for them beside the results.
if (window.matchMedia('(min-width: 48rem)').matches) $('#filters').open = true;

store.on(update);
update(store.get(), null);
