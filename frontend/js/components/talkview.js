// One talk: its full summary, where it comes from, and related talks. The title and the related
// talks are what ↑ ↓ move through (data-nav), as the results are in the results view.

import { fill, h, stateLink } from '../dom.js';
import { safeHref } from '../url.js';
import { talkMeta } from './hit.js';

function paragraphs(text) {
  return String(text ?? '')
    .split(/\n\s*\n/)
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p) => h('p', {}, p));
}

/** The talk view in `root`; its "back" link calls `back(state)` rather than `view.go`. */
export function createTalkView({ root, view, back }) {
  const { i18n } = view;
  const { t } = i18n;
  const backLink = (state) => stateLink({ ...view, go: back }, { ...state, talk: '' }, { class: 'back', 'data-testid': 'back' }, `← ${t('back')}`);

  return {
    /** Show a talk (the /api/talks/{id} body) and focus its title; says whether it has related talks. */
    render(state, talk) {
      const related = Array.isArray(talk.related) ? talk.related : [];
      const source = safeHref(talk.url, location.href);
      const tags = Array.isArray(talk.tags) ? talk.tags.filter(Boolean) : [];
      fill(root,
        backLink(state),
        h('article', { class: 'talk', lang: talk.lang || null },
          h('h2', { tabindex: '-1', 'data-testid': 'talk-title', 'data-nav': '' }, talk.title ?? ''),
          h('p', { class: 'meta' }, talkMeta(talk, i18n)),
          tags.length ? h('ul', { class: 'tags', 'aria-label': t('tags') }, tags.map((tag) => h('li', {}, tag))) : null,
          h('div', { class: 'summary' }, paragraphs(talk.summary)),
          source ? h('p', {}, h('a', { class: 'source', href: source, rel: 'noopener noreferrer' }, t('source'), ' ↗')) : null),
        related.length ? h('section', { class: 'related', 'aria-labelledby': 'related-title' },
          h('h3', { id: 'related-title' }, t('related')),
          h('ul', {}, related.map((item) => h('li', {},
            stateLink(view, { ...state, talk: item.id }, { 'data-nav': '' }, item.title ?? item.id),
            h('p', { class: 'meta' }, talkMeta(item, i18n)))))) : null);
      root.querySelector('h2').focus();
      return { related: related.length > 0 };
    },
    renderError(state, error) {
      const message = error.status === 404 ? t('talkMissing') : `${t('error')}${error.message ? `${t('colon')}${error.message}` : ''}`;
      fill(root, backLink(state), h('div', { class: 'error', role: 'alert' }, h('p', {}, message)));
      root.querySelector('.back').focus();
    },
  };
}
