// The translator, and the French (the default, as the content) and English text of the parts the page
// and the widget share; each adds its own (pagetext.js, the widget's module) to its translator.

const MESSAGES = {
  fr: {
    resultsHeading: 'Résultats',
    searchLabel: 'Rechercher un talk',
    placeholder: 'Rechercher : titre, intervenant, sujet…',
    results: { one: '{n} résultat', other: '{n} résultats' },
    resultsFor: { one: '{n} résultat pour « {q} »', other: '{n} résultats pour « {q} »' },
    noResultsFor: 'Aucun résultat pour « {q} »',
    noResults: 'Aucun résultat',
    noResultsHelp: 'Vérifiez l’orthographe, essayez des mots plus généraux ou moins de mots.',
    didYouMean: 'Vouliez-vous dire',
    alsoSearched: 'Aussi cherché',
    exactWordsOnly: 'Seulement les mots exacts',
    exactWordsShown: 'Mots exacts seulement',
    searchTranslations: 'Chercher aussi les traductions',
    removeFilters: 'Retirer les filtres',
    showMore: 'Afficher plus',
    showLess: 'Afficher moins',
    facet: { speaker: 'Intervenant·e', company: 'Entreprise', event: 'Événement', year: 'Année', lang: 'Langue' },
    partial: 'Résultats partiels : la recherche a pris trop de temps.',
    matchedAny: 'Aucun talk ne contient tous ces mots : voici ceux qui en contiennent une partie.',
    matchedSome: 'D’abord les talks qui contiennent tous ces mots, puis ceux qui n’en contiennent qu’une partie.',
    error: 'La recherche n’a pas abouti',
    errorOffline: 'Le service de recherche est injoignable.',
    retry: 'Réessayer',
    unknownLang: 'inconnue',
    colon: '\u00a0: ',
    questionMark: '\u00a0?',
  },
  en: {
    resultsHeading: 'Results',
    searchLabel: 'Search talks',
    placeholder: 'Search: title, speaker, topic…',
    results: { one: '{n} result', other: '{n} results' },
    resultsFor: { one: '{n} result for “{q}”', other: '{n} results for “{q}”' },
    noResultsFor: 'No results for “{q}”',
    noResults: 'No results',
    noResultsHelp: 'Check the spelling, try more general or fewer words.',
    didYouMean: 'Did you mean',
    alsoSearched: 'Also searched',
    exactWordsOnly: 'Exact words only',
    exactWordsShown: 'Exact words only',
    searchTranslations: 'Search translations too',
    removeFilters: 'Remove the filters',
    showMore: 'Show more',
    showLess: 'Show less',
    facet: { speaker: 'Speaker', company: 'Company', event: 'Event', year: 'Year', lang: 'Language' },
    partial: 'Partial results: the search took too long.',
    matchedAny: 'No talk has all of these words: here are those with some of them.',
    matchedSome: 'Talks with all of these words come first, then talks with only some of them.',
    error: 'The search failed',
    errorOffline: 'The search service cannot be reached.',
    retry: 'Try again',
    unknownLang: 'unknown',
    colon: ': ',
    questionMark: '?',
  },
};

const formatters = new Map(); // Intl objects are slow to make: one of each kind per language and options

function formatter(Kind, locale, options) {
  const key = `${Kind.name}:${locale}:${JSON.stringify(options)}`;
  if (!formatters.has(key)) formatters.set(key, new Kind(locale, options));
  return formatters.get(key);
}

/** A translator of the shared text plus `more` ({fr, en}), one per view: two widgets may speak two languages. */
export function createI18n(locale = 'fr', more = {}) {
  const messages = { fr: { ...MESSAGES.fr, ...more.fr }, en: { ...MESSAGES.en, ...more.en } };
  let current = 'fr';

  function lookup(key) {
    return key.split('.').reduce((node, part) => node?.[part], messages[current]) ?? key;
  }

  function formatNumber(n) {
    return formatter(Intl.NumberFormat, current).format(n ?? 0);
  }

  const i18n = {
    locale: () => current,

    setLocale(next) {
      current = messages[next] ? next : 'fr';
    },

    /** t('resultsFor', {n: 3, q: 'x'}): plural forms are picked with Intl.PluralRules when `n` is given. */
    t(key, vars = {}) {
      let message = lookup(key);
      if (typeof message === 'object') message = message[formatter(Intl.PluralRules, current).select(vars.n ?? 0)] ?? message.other;
      return message.replace(/\{(\w+)\}/g, (_, name) => (name === 'n' ? formatNumber(vars.n) : String(vars[name] ?? '')));
    },

    formatNumber,

    /** "2019-11-02" -> "2 novembre 2019" / "November 2, 2019"; anything unparsable is shown as given. */
    formatDate(iso) {
      const match = /^(\d{4})-(\d{2})-(\d{2})/.exec(iso || '');
      if (!match) return iso || '';
      const date = new Date(Date.UTC(+match[1], +match[2] - 1, +match[3]));
      return formatter(Intl.DateTimeFormat, current, { dateStyle: 'long', timeZone: 'UTC' }).format(date);
    },

    /** "fr" -> "français" / "French" */
    languageName(code) {
      if (!code) return lookup('unknownLang');
      try {
        return formatter(Intl.DisplayNames, current, { type: 'language' }).of(code) || code;
      } catch {
        return code;
      }
    },
  };
  i18n.setLocale(locale);
  return i18n;
}
