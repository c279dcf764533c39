// The search box: search as you type (debounced), and the keyboard inside it (↓ down into the results,
// Enter searches at once, Esc clears). With a `listbox`, it offers suggestions in an ARIA combobox
// (the page); without one, results alone follow the typing (the widget).

import { STALE } from '../api.js';
import { activeElement, debounce, fill, h } from '../dom.js';

// what /api/suggest returns (functions/search/engine.py's suggest): a word, a speaker, a title
const KINDS = new Set(['term', 'speaker', 'title']);
/** ms of quiet typing before a search, and before suggestions */
const DELAYS = { search: 250, suggest: 120 };

/** The /api/suggest body ({query, suggestions: [{text, kind}]}) as the items worth showing. */
export function readSuggestions(body) {
  const items = Array.isArray(body?.suggestions) ? body.suggestions : [];
  return items.filter((item) => typeof item?.text === 'string' && item.text.trim()).slice(0, 8);
}

/** `onEscape()` is asked first when Esc has no suggestions to close: it returns true when it used the key
 * (the widget closes its results), otherwise Esc clears the query. */
export function createSearchBox({ form, input, listbox = null, api, i18n, onQuery, onLeaveDown, onEscape = () => false }) {
  let items = [];
  let active = -1;
  let typing = false; // the box holds text the state does not have yet

  const isOpen = () => listbox !== null && !listbox.hidden;

  function close() {
    if (!listbox) return;
    api.cancel('suggest');
    listbox.hidden = true;
    active = -1;
    input.setAttribute('aria-expanded', 'false');
    input.removeAttribute('aria-activedescendant');
  }

  function highlight(index) {
    active = index;
    listbox.querySelectorAll('[role=option]').forEach((option, i) => option.setAttribute('aria-selected', String(i === index)));
    if (index >= 0) input.setAttribute('aria-activedescendant', `suggestion-${index}`);
    else input.removeAttribute('aria-activedescendant');
  }

  function show(list) {
    items = list;
    if (!items.length || activeElement(input) !== input) return close();
    fill(
      listbox,
      items.map((item, i) =>
        h(
          'li',
          { id: `suggestion-${i}`, role: 'option', 'aria-selected': 'false', onmousedown: (e) => e.preventDefault(), onclick: () => choose(i) },
          h('span', { class: 'suggestion-text' }, item.text),
          KINDS.has(item.kind) ? h('span', { class: 'suggestion-kind' }, i18n.t(`kind.${item.kind}`)) : null,
        ),
      ),
    );
    listbox.hidden = false;
    input.setAttribute('aria-expanded', 'true');
    highlight(-1);
  }

  const suggest = debounce(async (q) => {
    try {
      const body = await api.suggest(q);
      if (body !== STALE && input.value.trim() === q) show(readSuggestions(body));
    } catch {
      close(); // suggestions are a nicety: a failure just hides them
    }
  }, DELAYS.suggest);

  const commitSoon = debounce(() => commit('typing'), DELAYS.search);

  function commit(how) {
    commitSoon.cancel();
    typing = false;
    onQuery(input.value.trim(), how);
  }

  function choose(index) {
    input.value = items[index].text;
    close();
    suggest.cancel();
    commit('submit');
  }

  input.addEventListener('input', () => {
    typing = true;
    commitSoon();
    const q = input.value.trim();
    if (listbox && q.length >= 2) suggest(q);
    else {
      suggest.cancel();
      close();
    }
  });

  input.addEventListener('keydown', (event) => {
    if (event.key === 'ArrowDown') {
      event.preventDefault();
      if (isOpen() && active < items.length - 1) highlight(active + 1);
      else {
        close();
        onLeaveDown();
      }
    } else if (event.key === 'ArrowUp' && isOpen()) {
      event.preventDefault();
      highlight(Math.max(active - 1, -1));
    } else if (event.key === 'Enter' && isOpen() && active >= 0) {
      event.preventDefault();
      choose(active);
    } else if (event.key === 'Escape') {
      event.preventDefault();
      if (isOpen()) close();
      else if (!onEscape() && input.value) {
        input.value = '';
        commit('submit');
      }
    }
  });

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    suggest.cancel();
    close();
    commit('submit');
  });

  input.addEventListener('blur', () => setTimeout(() => activeElement(input) !== input && close(), 0));

  return {
    /** Show the state's query unless the visitor is typing something newer. */
    sync(q) {
      if (!typing && input.value !== q) input.value = q;
    },
    focus() {
      input.focus();
      input.select();
    },
  };
}
