// "Also searched": what the runs of typed words of an answer also searched (the glossary's translations,
// the site's synonyms), and the switch to the exact words only, and back. Shared by the page and the
// <talk-search> widget: it builds nodes only, and each caller says what its switch does.

import { h } from './dom.js';

/** The distinct texts an answer's `expanded` lists, in order (each run's targets, run after run). */
export function alsoSearchedTerms(expanded) {
  const seen = new Set();
  for (const entry of Array.isArray(expanded) ? expanded : []) {
    for (const term of Array.isArray(entry?.to) ? entry.to : []) {
      if (typeof term === 'string' && term.trim()) seen.add(term.trim());
    }
  }
  return [...seen];
}

/**
 * The line under the result count, or null when there is nothing to say.
 * `exact`: the search was asked with exact=1 (the answer then lists nothing: offer to undo it).
 * `i18n`: the view's translator. `toggle(label, exactNext)`: the caller's switch element (a link to its state, a button).
 */
export function alsoSearchedLine(data, exact, i18n, toggle) {
  const { t } = i18n;
  const props = { class: 'also-searched', 'data-testid': 'also-searched' };
  if (exact) return h('p', props, t('exactWordsShown'), ' · ', toggle(t('searchTranslations'), false));
  const terms = alsoSearchedTerms(data?.expanded);
  if (!terms.length) return null;
  return h('p', props, `${t('alsoSearched')}${t('colon')}`, h('span', { class: 'also-searched-terms' }, terms.join(', ')),
    ' · ', toggle(t('exactWordsOnly'), true));
}
