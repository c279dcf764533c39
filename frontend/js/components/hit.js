// What the page and the widget show of an answer: the notes above the results (did you mean, what the
// query also searched), each result, and when a search fails; and the meta line under a talk's title
// that the talk view shows too.

import { h, stateLink } from '../dom.js';
import { activeFilters, clearFilters } from '../url.js';

// The API's snippet is escaped HTML whose only markup is <mark>. Never handed to innerHTML: split into
// text segments for text nodes and <mark> elements, anything else stays text (pure, tested with node).

// The API marks a cut with "…"; right after a full stop (or ? !) the sentence is whole: "done.…" -> "done."
const CUT_AFTER_SENTENCE = /([.!?])\s*…$/;

const NAMED = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

export function decodeEntities(text) {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, name) => {
    if (name[0] === '#') {
      const code = name[1] === 'x' || name[1] === 'X' ? Number.parseInt(name.slice(2), 16) : Number(name.slice(1));
      return code > 0 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff) ? String.fromCodePoint(code) : whole;
    }
    return NAMED[name.toLowerCase()] ?? whole;
  });
}

/** `a <mark>b</mark> &amp; c` -> [{text: 'a ', mark: false}, {text: 'b', mark: true}, {text: ' & c', mark: false}]
 * (a cut right after a sentence's end loses its "…"). */
export function splitSnippet(html) {
  const segments = [];
  let depth = 0;
  for (const part of String(html ?? '').split(/(<\/?mark>)/i)) {
    const tag = part.toLowerCase();
    if (tag === '<mark>') depth += 1;
    else if (tag === '</mark>') depth = Math.max(depth - 1, 0);
    else if (part) {
      const text = decodeEntities(part);
      const mark = depth > 0;
      const last = segments.at(-1);
      if (last && last.mark === mark) last.text += text;
      else segments.push({ text, mark });
    }
  }
  const last = segments.at(-1);
  if (last && !last.mark) last.text = last.text.replace(CUT_AFTER_SENTENCE, '$1');
  return segments;
}

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

/** The distinct texts an answer's `expanded` lists (the glossary's translations, the site's synonyms), in order. */
export function alsoSearchedTerms(expanded) {
  const seen = new Set();
  for (const entry of Array.isArray(expanded) ? expanded : []) {
    for (const term of Array.isArray(entry?.to) ? entry.to : []) {
      if (typeof term === 'string' && term.trim()) seen.add(term.trim());
    }
  }
  return [...seen];
}

/** "Did you mean", what the query also searched and the switch to its exact words only (and back), no results,
 * some words only, partial results: about `data`, the answer to `state`. */
export function searchNotes(state, data, view) {
  const { t } = view.i18n;
  const parts = [];
  const link = (next, testid, label) => stateLink(view, { ...state, ...next, page: 1 }, { 'data-testid': testid }, label);
  if (data.did_you_mean && data.did_you_mean !== state.q) {
    parts.push(h('p', { class: 'did-you-mean' }, `${t('didYouMean')}${t('colon')}`, link({ q: data.did_you_mean }, 'did-you-mean', data.did_you_mean), t('questionMark')));
  }
  // an exact=1 answer lists no expansions: offer to undo it
  const terms = alsoSearchedTerms(data.expanded);
  const also = { class: 'also-searched', 'data-testid': 'also-searched' };
  if (state.q && state.exact) parts.push(h('p', also, t('exactWordsShown'), ' · ', link({ exact: false }, 'exact-switch', t('searchTranslations'))));
  else if (state.q && terms.length) {
    parts.push(h('p', also, `${t('alsoSearched')}${t('colon')}`, h('span', { class: 'also-searched-terms' }, terms.join(', ')),
      ' · ', link({ exact: true }, 'exact-switch', t('exactWordsOnly'))));
  }
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
