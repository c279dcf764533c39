// <talk-search api lang size placeholder facets> (docs/blog.md): the page's modules in a shadow root,
// nothing inline, so a page's CSP need only allow this origin.

import { ApiError, STALE, createApi, reportOpensFrom } from '../js/api.js';
import { renderHit, searchError, searchNotes } from '../js/components/hit.js';
import { MAX_QUERY_CHARS, MAX_SIZE } from '../js/contracts.js';
import { activeElement, arrowFocus, createSearchBox, fill, h } from '../js/dom.js';
import { createI18n } from '../js/i18n.js';
import { FACETS, LOCALES, emptyState, safeHref, searchParams, serializeState } from '../js/url.js';

const here = (path) => new URL(path, import.meta.url).href;
const SEARCH_PAGE = here('../'); // published with it: "see all results", talks without a link
const TEXT = {
  fr: {
    hint: '↓ pour parcourir les résultats, Entrée pour ouvrir, Échap pour fermer.',
    seeAll: 'Voir les {n} résultats sur la page de recherche',
  },
  en: {
    hint: '↓ to move through the results, Enter to open, Esc to close.',
    seeAll: 'See all {n} results on the search page',
  },
};

class TalkSearch extends HTMLElement {
  static observedAttributes = ['lang', 'placeholder'];

  #i18n = createI18n('fr', TEXT);
  #view = { go: (next) => this.#go(next), href: (next) => SEARCH_PAGE + (serializeState(next) || '?'), i18n: this.#i18n };
  #state = emptyState();
  #shown = null; // on screen: {state, data} or {state, error}
  #ui;

  connectedCallback() {
    if (!this.#ui) this.#build();
  }

  attributeChangedCallback() {
    if (this.#ui) this.#translate();
  }

  #build() {
    const named = this.getAttribute('facets')?.split(/[\s,]+/).filter(Boolean);
    const facets = named ? FACETS.filter((facet) => !named.length || named.includes(facet)) : [];
    const hidden = (props) => h('p', { class: 'visually-hidden', ...props });
    const ui = {
      size: Math.min(Math.max(Number.parseInt(this.getAttribute('size'), 10) || 5, 1), MAX_SIZE),
      apiBase: (this.getAttribute('api') || here('../api')).replace(/\/+$/, ''),
      label: h('label', { for: 'q', class: 'visually-hidden' }),
      input: h('input', { id: 'q', type: 'search', part: 'input', autocomplete: 'off', spellcheck: 'false', maxlength: MAX_QUERY_CHARS, enterkeyhint: 'search', 'aria-describedby': 'hint' }),
      hint: hidden({ id: 'hint' }),
      heading: h('h2', { id: 'heading', class: 'visually-hidden' }), // the hits' h3 follow a heading
      count: h('p', { class: 'count' }),
      facets: facets.length ? h('div', { class: 'facets' }) : null,
      notice: h('div', { class: 'notice' }),
      hits: h('ol', { class: 'hits' }),
      more: h('a', { class: 'more', 'data-nav': '', hidden: true }),
      status: hidden({ role: 'status', 'aria-live': 'polite', 'aria-atomic': 'true' }),
    };
    const form = h('form', { role: 'search', part: 'form' }, ui.label, ui.input);
    // focusable: a click on its text keeps the focus in the widget
    ui.panel = h('section', { class: 'panel', part: 'panel', tabindex: '-1', hidden: true, 'aria-labelledby': 'heading' },
      ui.heading, ui.count, h('div', { class: 'body' }, ui.facets, h('div', {}, ui.notice, ui.hits, ui.more)));
    ui.root = h('div', { hidden: true }, form, ui.hint, ui.panel, ui.status); // hidden until styled
    const reveal = () => (ui.root.hidden = false);
    const shadow = this.attachShadow({ mode: 'open' });
    shadow.append(h('link', { rel: 'stylesheet', href: here('talksearch.css'), onload: reveal, onerror: reveal }), ui.root);
    ui.api = createApi(ui.apiBase);
    this.#ui = ui;
    this.#translate();

    ui.box = createSearchBox({
      form,
      input: ui.input,
      onQuery: (q) => q !== this.#state.q && this.#go({ ...this.#state, q, page: 1, exact: false }), // exact words: the last query's
      onLeaveDown: () => {
        this.#open();
        this.#targets()[0]?.focus();
      },
      onEscape: () => {
        if (ui.panel.hidden) return false;
        this.#close();
        return true;
      },
    });
    if (facets.length) {
      import('../js/components/facets.js').then(({ createFacets }) => {
        ui.facetList = createFacets({ root: ui.facets, view: this.#view, names: facets });
        if (this.#shown) this.#render();
      });
    }
    reportOpensFrom(ui.hits, ui.apiBase, () => this.#shown?.state.q ?? '');
    ui.input.addEventListener('focus', () => this.#open());
    ui.input.addEventListener('click', () => this.#open());
    shadow.addEventListener('keydown', (event) => {
      if (arrowFocus(event, this.#targets(), () => ui.input.focus())) return;
      if (event.key === 'Escape' && event.target !== ui.input && !ui.panel.hidden) {
        event.preventDefault();
        ui.input.focus();
        this.#close();
      }
    });
    // focus leaving the widget closes it (once it has landed: a re-render may move it)
    shadow.addEventListener('focusout', () => setTimeout(() => shadow.activeElement || this.#close()));
  }

  /** Texts in the language of the lang attribute (else the page's), and the placeholder. */
  #translate() {
    const lang = this.closest('[lang]')?.lang.slice(0, 2).toLowerCase();
    this.#i18n.setLocale(LOCALES.includes(lang) ? lang : 'fr');
    const { t, locale } = this.#i18n;
    const ui = this.#ui;
    ui.root.lang = locale();
    this.#state = { ...this.#state, hl: locale() };
    ui.label.textContent = t('searchLabel');
    ui.input.placeholder = this.getAttribute('placeholder') ?? t('placeholder');
    ui.hint.textContent = t('hint');
    ui.heading.textContent = t('resultsHeading');
    if (this.#shown) this.#render();
  }

  /** What ↑ ↓ move through: the results, then "see all". */
  #targets() {
    return [...this.#ui.panel.querySelectorAll('[data-nav]:not([hidden])')];
  }

  #open() {
    if (this.#state.q) this.#ui.panel.hidden = false;
  }

  #close() {
    this.#ui.panel.hidden = true;
  }

  #go(next) {
    const { api, box, panel, status } = this.#ui;
    this.#state = next;
    box.sync(next.q);
    if (next.q) return this.#search(next);
    api.cancel('search');
    this.#shown = null;
    this.#close();
    panel.removeAttribute('aria-busy');
    status.textContent = '';
  }

  async #search(state) {
    const { api, size, panel, status } = this.#ui;
    const { t } = this.#i18n;
    panel.setAttribute('aria-busy', 'true');
    try {
      const data = await api.search(searchParams(state, size));
      if (data === STALE) return;
      this.#shown = { state, data };
      status.textContent = t('resultsFor', { n: data.total ?? 0, q: state.q });
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      this.#shown = { state, error };
      status.textContent = t('error');
    }
    this.#render();
    panel.removeAttribute('aria-busy');
    if (this.shadowRoot.activeElement) this.#open();
  }

  #render() {
    const { state, data = {}, error } = this.#shown;
    const { panel, count, notice, hits, more, input, facetList } = this.#ui;
    const { t } = this.#i18n;
    const focused = panel.contains(activeElement(panel));
    const list = data.hits ?? [];
    const total = data.total ?? 0;
    fill(count, error ? '' : t('results', { n: total }));
    fill(notice, error ? searchError(error, this.#i18n, () => this.#search(state)) : searchNotes(state, data, this.#view));
    // a talk opens where it was published, else in the search page's talk view
    const title = (hit) => h('a', { href: safeHref(hit.url, location.href) || this.#view.href({ ...state, talk: hit.id }), 'data-nav': '', 'data-talk': hit.id }, hit.title);
    fill(hits, list.map((hit) => renderHit(hit, title(hit), this.#i18n)));
    more.hidden = !(total > list.length);
    more.href = this.#view.href(state);
    more.textContent = t('seeAll', { n: total });
    if (!error) facetList?.render(state, data);
    // the focused link ("did you mean") is gone: the keyboard stays in the widget
    if (focused && !panel.contains(activeElement(panel))) input.focus();
  }
}

if (!customElements.get('talk-search')) customElements.define('talk-search', TalkSearch);
