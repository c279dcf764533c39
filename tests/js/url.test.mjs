// Pure URL-state logic (frontend/js/url.js, and the page's reading of it in state.js), run by
// tests/test_page_logic.py.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { MAX_PAGE, MAX_QUERY_CHARS } from '../../frontend/js/contracts.js';
import { parseState, sameSearch } from '../../frontend/js/state.js';
import {
  activeFilters, clearFilters, emptyState, safeHref, searchParams, serializeState, toggleFilter,
} from '../../frontend/js/url.js';

test('the default view has an empty URL', () => {
  assert.equal(serializeState(emptyState()), '');
  assert.deepEqual(parseState(''), emptyState());
});

test('a full state survives the round trip through its URL', () => {
  const state = {
    ...emptyState(),
    q: 'déploiement "kubernetes" -docker',
    filters: { speaker: ['Zoé Dupont', 'A&B = C'], company: [], event: ['PyCon FR 2019'], year: ['2019', '2024'], lang: ['fr'] },
    sort: 'date',
    exact: true,
    page: 3,
    talk: 'pycon-fr-2019/talk#1?x=y',
    hl: 'en',
  };
  const url = serializeState(state);
  assert.deepEqual(parseState(url), state);
  assert.match(url, /speaker=Zo%C3%A9\+Dupont&speaker=A%26B\+%3D\+C/);
});

test('defaults are left out of the URL', () => {
  assert.equal(serializeState({ ...emptyState(), q: 'rust' }), '?q=rust');
  assert.equal(serializeState({ ...emptyState(), q: 'rust', hl: 'fr', sort: 'relevance', page: 1 }), '?q=rust');
});

test('a malformed URL falls back to sane values instead of failing', () => {
  const state = parseState('?page=abc&sort=random&hl=de&year=&year=%20&q=' + 'x'.repeat(500));
  assert.equal(state.page, 1);
  assert.equal(state.sort, 'relevance');
  assert.equal(state.hl, 'fr');
  assert.deepEqual(state.filters.year, []);
  assert.equal(state.q.length, MAX_QUERY_CHARS);
  assert.equal(parseState('?page=100000').page, MAX_PAGE);
  assert.equal(parseState('?page=-4').page, 1);
});

test('facet values are trimmed, de-duplicated and capped at the API limit', () => {
  const many = Array.from({ length: 15 }, (_, i) => `speaker=s${i}`).join('&');
  assert.equal(parseState(`?${many}`).filters.speaker.length, 10);
  assert.deepEqual(parseState('?lang=fr&lang=%20fr%20&lang=en').filters.lang, ['fr', 'en']);
});

test('toggling a filter adds then removes it and goes back to page 1', () => {
  const start = { ...emptyState(), q: 'python', page: 4 };
  const on = toggleFilter(start, 'event', 'PyCon FR');
  assert.deepEqual(on.filters.event, ['PyCon FR']);
  assert.equal(on.page, 1);
  const both = toggleFilter(on, 'event', 'DjangoCon');
  assert.deepEqual(activeFilters(both), [
    { facet: 'event', value: 'PyCon FR' },
    { facet: 'event', value: 'DjangoCon' },
  ]);
  assert.deepEqual(toggleFilter(both, 'event', 'PyCon FR').filters.event, ['DjangoCon']);
  assert.deepEqual(activeFilters(clearFilters(both)), []);
  assert.deepEqual(start.filters.event, [], 'the original state is not mutated');
});

test('the API parameters repeat a facet for OR and include the page size', () => {
  const state = toggleFilter(toggleFilter({ ...emptyState(), q: 'web' }, 'year', '2019'), 'year', '2020');
  assert.equal(searchParams(state, 10).toString(), 'q=web&page=1&size=10&year=2019&year=2020');
  assert.equal(searchParams({ ...state, sort: 'date' }, 5).get('sort'), 'date');
});

test('the talk view and the interface language do not change the search', () => {
  const state = { ...emptyState(), q: 'web' };
  assert.ok(sameSearch(state, { ...state, talk: 'a/b', hl: 'en' }));
  assert.ok(!sameSearch(state, { ...state, page: 2 }));
});

test('only http(s) links from content become hrefs', () => {
  const base = 'https://talks.example/';
  assert.equal(safeHref('https://youtu.be/x', base), 'https://youtu.be/x');
  assert.equal(safeHref('/recap/2024#talk-3', base), 'https://talks.example/recap/2024#talk-3');
  for (const hostile of ['javascript:alert(1)', ' JavaScript:alert(1)', 'data:text/html,<script>', 'vbscript:x', '', null, 42]) {
    assert.equal(safeHref(hostile, base), '', String(hostile));
  }
});

test('exact words only is in the URL and in the API request, and only when asked', () => {
  const state = { ...emptyState(), q: 'conteneurs', exact: true };
  assert.equal(serializeState(state), '?q=conteneurs&exact=1');
  assert.equal(searchParams(state, 10).get('exact'), '1');
  assert.equal(searchParams({ ...state, exact: false }, 10).has('exact'), false);
  assert.equal(parseState('?q=x&exact=yes').exact, false);
  assert.equal(sameSearch(state, { ...state, exact: false }), false);
});
