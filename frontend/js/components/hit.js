// One search result, as the page and the widget show it.

import { h } from '../dom.js';
import { splitSnippet } from '../snippet.js';
import { safeHref } from '../url.js';
import { talkMeta } from './talkmeta.js';

/** The API snippet as text nodes and <mark> elements (never innerHTML). */
export function snippetNodes(snippet) {
  return splitSnippet(snippet).map((s) => (s.mark ? h('mark', {}, s.text) : s.text));
}

/** A result's <li>, under `title`, the link its view makes (the page's opens the talk view); `source: false`
 * leaves out the link to its source (the widget's title is that link). */
export function renderHit(hit, title, i18n, { source = true } = {}) {
  const href = source ? safeHref(hit.url, location.href) : '';
  return h(
    'li',
    { class: 'hit', 'data-testid': 'hit' },
    h('article', { lang: hit.lang || null },
      h('h3', { class: 'hit-title' }, title),
      h('p', { class: 'meta' }, talkMeta(hit, i18n)),
      hit.snippet ? h('p', { class: 'snippet' }, snippetNodes(hit.snippet)) : null,
      href ? h('a', { class: 'source', href, rel: 'noopener noreferrer', 'aria-label': i18n.t('openSource', { title: hit.title }) }, i18n.t('source'), ' ↗') : null,
    ),
  );
}
