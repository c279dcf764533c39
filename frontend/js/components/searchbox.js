// The search box: search as you type (debounced), suggestions in an ARIA combobox listbox, and the
// keyboard inside it (arrows through suggestions then down into the results, Enter, Esc clears).

import { config } from '../config.js';
import { STALE } from '../api.js';
import { activeElement, debounce, fill, h } from '../dom.js';
import { t } from '../i18n.js';

// what /api/suggest returns (functions/search/engine.py's suggest): a word, a speaker, a title
const KINDS = new Set(['term', 'speaker', 'title']);

/** The /api/suggest body ({query, suggestions: [{text, kind}]}) as the items worth showing. */
export function readSuggestions(body) {
  const items = Array.isArray(body?.suggestions) ? body.suggestions : [];
  return items.filter((item) => typeof item?.text === 'string' && item.text.trim()).slice(0, 8);
}

export function createSearchBox({ form, input, listbox, api, onQuery, onLeaveDown }) {
  let items = [];
  let active = -1;
  let typing = false; // the box holds text the state does not have yet

  const isOpen = () => !listbox.hidden;

  function close() {
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
          KINDS.has(item.kind) ? h('span', { class: 'suggestion-kind' }, t(`kind.${item.kind}`)) : null,
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
  }, config.suggestDelay);

  const commitSoon = debounce(() => commit('typing'), config.searchDelay);

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
    if (q.length >= 2) suggest(q);
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
      else if (input.value) {
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
