// Interface text in French (the default: the content is French) and English, for the page and the widget.

const MESSAGES = {
  fr: {
    title: 'Recherche de talks',
    tagline: 'Les résumés des conférences, en un clin d’œil.',
    skip: 'Aller aux résultats',
    footer: 'Recherche plein texte, tolérante aux fautes de frappe, sur les résumés publiés.',
    resultsHeading: 'Résultats',
    searchLabel: 'Rechercher un talk',
    placeholder: 'Rechercher : titre, intervenant, sujet…',
    searchButton: 'Rechercher',
    suggestions: 'Suggestions',
    otherLocale: 'English',
    otherLocaleTitle: 'Switch the interface to English',
    results: { one: '{n} résultat', other: '{n} résultats' },
    resultsFor: { one: '{n} résultat pour « {q} »', other: '{n} résultats pour « {q} »' },
    noResultsFor: 'Aucun résultat pour « {q} »',
    noResults: 'Aucun résultat',
    noResultsHelp: 'Vérifiez l’orthographe, essayez des mots plus généraux ou moins de mots.',
    didYouMean: 'Vouliez-vous dire',
    removeFilters: 'Retirer les filtres',
    clearFilters: 'Tout effacer',
    activeFilters: 'Filtres actifs',
    removeFilter: 'Retirer le filtre {facet} : {value}',
    filters: 'Filtres',
    showMore: 'Afficher plus',
    showLess: 'Afficher moins',
    sortLabel: 'Trier par',
    sort: { relevance: 'pertinence', date: 'date' },
    facet: { speaker: 'Intervenant·e', company: 'Entreprise', event: 'Événement', year: 'Année', lang: 'Langue' },
    pagination: 'Pagination',
    previous: 'Précédent',
    next: 'Suivant',
    pageN: 'Page {n}',
    partial: 'Résultats partiels : la recherche a pris trop de temps.',
    matchedAny: 'Aucun talk ne contient tous ces mots : voici ceux qui en contiennent une partie.',
    matchedSome: 'D’abord les talks qui contiennent tous ces mots, puis ceux qui n’en contiennent qu’une partie.',
    loading: 'Recherche…',
    error: 'La recherche n’a pas abouti',
    errorOffline: 'Le service de recherche est injoignable.',
    retry: 'Réessayer',
    source: 'Source',
    openSource: 'Ouvrir la source de « {title} »',
    back: 'Retour aux résultats',
    related: 'Talks proches',
    tags: 'Mots-clés',
    talkMissing: 'Ce talk est introuvable.',
    keyboardHint: 'Raccourcis : / pour chercher, ↑ ↓ pour parcourir, Entrée pour ouvrir, Échap pour effacer.',
    keyboardHintTalk: 'Raccourcis : ↑ ↓ pour parcourir les talks proches, Entrée pour ouvrir, Échap pour revenir aux résultats, / pour chercher.',
    keyboardHintTalkAlone: 'Raccourcis : Échap pour revenir aux résultats, / pour chercher.',
    showResults: { one: 'Voir {n} résultat', other: 'Voir {n} résultats' },
    seeResults: 'Voir les résultats',
    unknownLang: 'inconnue',
    colon: '\u00a0: ',
    questionMark: '\u00a0?',
    kind: { title: 'titre', speaker: 'intervenant·e', term: 'mot' },
  },
  en: {
    title: 'Talk search',
    tagline: 'Conference talk summaries at a glance.',
    skip: 'Skip to the results',
    footer: 'Full-text, typo-tolerant search over the published summaries.',
    resultsHeading: 'Results',
    searchLabel: 'Search talks',
    placeholder: 'Search: title, speaker, topic…',
    searchButton: 'Search',
    suggestions: 'Suggestions',
    otherLocale: 'Français',
    otherLocaleTitle: 'Passer l’interface en français',
    results: { one: '{n} result', other: '{n} results' },
    resultsFor: { one: '{n} result for “{q}”', other: '{n} results for “{q}”' },
    noResultsFor: 'No results for “{q}”',
    noResults: 'No results',
    noResultsHelp: 'Check the spelling, try more general or fewer words.',
    didYouMean: 'Did you mean',
    removeFilters: 'Remove the filters',
    clearFilters: 'Clear all',
    activeFilters: 'Active filters',
    removeFilter: 'Remove the filter {facet}: {value}',
    filters: 'Filters',
    showMore: 'Show more',
    showLess: 'Show less',
    sortLabel: 'Sort by',
    sort: { relevance: 'relevance', date: 'date' },
    facet: { speaker: 'Speaker', company: 'Company', event: 'Event', year: 'Year', lang: 'Language' },
    pagination: 'Pagination',
    previous: 'Previous',
    next: 'Next',
    pageN: 'Page {n}',
    partial: 'Partial results: the search took too long.',
    matchedAny: 'No talk has all of these words: here are those with some of them.',
    matchedSome: 'Talks with all of these words come first, then talks with only some of them.',
    loading: 'Searching…',
    error: 'The search failed',
    errorOffline: 'The search service cannot be reached.',
    retry: 'Try again',
    source: 'Source',
    openSource: 'Open the source of “{title}”',
    back: 'Back to the results',
    related: 'Related talks',
    tags: 'Tags',
    talkMissing: 'This talk cannot be found.',
    keyboardHint: 'Shortcuts: / to search, ↑ ↓ to move, Enter to open, Esc to clear.',
    keyboardHintTalk: 'Shortcuts: ↑ ↓ to move through related talks, Enter to open, Esc to go back to the results, / to search.',
    keyboardHintTalkAlone: 'Shortcuts: Esc to go back to the results, / to search.',
    showResults: { one: 'Show {n} result', other: 'Show {n} results' },
    seeResults: 'Show the results',
    unknownLang: 'unknown',
    colon: ': ',
    questionMark: '?',
    kind: { title: 'title', speaker: 'speaker', term: 'word' },
  },
};

const formatters = new Map(); // Intl objects are slow to make: one of each kind per language and options

function formatter(Kind, locale, options) {
  const key = `${Kind.name}:${locale}:${JSON.stringify(options)}`;
  if (!formatters.has(key)) formatters.set(key, new Kind(locale, options));
  return formatters.get(key);
}

/** A translator in `locale` (fr or en), which `setLocale` changes. Each view has its own: the page
 * switches its language in place, and two widgets on one page may speak different ones. */
export function createI18n(locale = 'fr') {
  let current = 'fr';

  function lookup(key) {
    return key.split('.').reduce((node, part) => node?.[part], MESSAGES[current]) ?? key;
  }

  function formatNumber(n) {
    return formatter(Intl.NumberFormat, current).format(n ?? 0);
  }

  const i18n = {
    locale: () => current,

    setLocale(next) {
      current = MESSAGES[next] ? next : 'fr';
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
