// A talk as a list shows it: a search result (the page's and the widget's), and the meta line under a
// talk's title that the talk view shows too.

import { h } from '../dom.js';
import { splitSnippet } from '../snippet.js';

/** Speakers, company, event, date, language: one element each, so the stylesheet can keep each whole. */
export function talkMeta(talk, i18n) {
  const parts = [];
  const speakers = Array.isArray(talk.speakers) ? talk.speakers.filter(Boolean) : [];
  if (speakers.length) parts.push(h('span', { class: 'speakers' }, speakers.join(', ')));
  if (talk.company) parts.push(h('span', {}, talk.company));
  if (talk.event) parts.push(h('span', {}, talk.event));
  if (talk.date) parts.push(h('time', { datetime: talk.date }, i18n.formatDate(talk.date)));
  if (talk.lang) parts.push(h('span', { class: 'badge', lang: talk.lang }, talk.lang.toUpperCase()));
  return parts;
}

/** The API snippet as text nodes and <mark> elements (never innerHTML). */
export function snippetNodes(snippet) {
  return splitSnippet(snippet).map((s) => (s.mark ? h('mark', {}, s.text) : s.text));
}

/** A result's <li> under `title`, its view's link (the page's talk view, the widget's published talk). */
export function renderHit(hit, title, i18n, ...extra) {
  return h('li', { class: 'hit', 'data-testid': 'hit' },
    h('article', { lang: hit.lang || null },
      h('h3', { class: 'hit-title' }, title),
      h('p', { class: 'meta' }, talkMeta(hit, i18n)),
      hit.snippet ? h('p', { class: 'snippet' }, snippetNodes(hit.snippet)) : null,
      extra));
}
