// The page's suggestions under the search box: completions of what is being typed, in an ARIA combobox
// listbox, with the arrows, Enter and Esc inside it. The search box (dom.js) hands them its keys.

import { STALE } from '../api.js';
import { MAX_SUGGESTIONS, SUGGESTION_KINDS } from '../contracts.js';
import { activeElement, debounce, fill, h } from '../dom.js';

// what /api/suggest returns: a word, a speaker, a title
const KINDS = new Set(SUGGESTION_KINDS);
const DELAY = 120; // ms of quiet typing before asking

/** The /api/suggest body ({query, suggestions: [{text, kind}]}) as the items worth showing. */
export function readSuggestions(body) {
  const items = Array.isArray(body?.suggestions) ? body.suggestions : [];
  return items.filter((item) => typeof item?.text === 'string' && item.text.trim()).slice(0, MAX_SUGGESTIONS);
}

/** Suggestions for `input` in `listbox`; choosing one calls `onChoose(text)`. */
export function createSuggestions({ input, listbox, api, i18n, onChoose }) {
  let items = [];
  let active = -1;

  const isOpen = () => !listbox.hidden;

  function close() {
    suggest.cancel();
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
      const body = await api.get('suggest', '/suggest', new URLSearchParams({ q }));
      if (body !== STALE && input.value.trim() === q) show(readSuggestions(body));
    } catch {
      close(); // suggestions are a nicety: a failure just hides them
    }
  }, DELAY);

  function choose(index) {
    const { text } = items[index];
    close();
    onChoose(text);
  }

  input.addEventListener('blur', () => setTimeout(() => activeElement(input) !== input && close(), 0));

  return {
    close,
    /** The box's text changed: ask for its completions once it has 2 characters. */
    update(q) {
      if (q.length >= 2) suggest(q);
      else close();
    },
    /** A key pressed in the box: true when the suggestions used it. ↓ past the last one closes them and
     * is left to the box (it goes down to the results). */
    key(event) {
      if (!isOpen()) return false;
      if (event.key === 'ArrowDown' && active < items.length - 1) highlight(active + 1);
      else if (event.key === 'ArrowUp') highlight(Math.max(active - 1, -1));
      else if (event.key === 'Enter' && active >= 0) choose(active);
      else if (event.key === 'Escape') close();
      else {
        if (event.key === 'ArrowDown') close();
        return false;
      }
      event.preventDefault();
      return true;
    },
  };
}
