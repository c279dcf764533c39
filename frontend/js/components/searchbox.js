// The search box: search as you type (debounced), ↓ down to the results, Enter searches at once, Esc
// clears. The page gives it suggestions (suggestions.js), which see the keys first.

import { debounce } from '../dom.js';

const SEARCH_DELAY = 250; // ms of quiet typing before a search

/** `onQuery(q, how)`, how: 'typing' or 'submit'. Esc asks `onEscape()` (true: it used the key), then clears. */
export function createSearchBox({ form, input, suggestions = null, onQuery, onLeaveDown, onEscape = () => false }) {
  let typing = false; // the box holds text the state does not have yet

  const commitSoon = debounce(() => commit('typing'), SEARCH_DELAY);

  function commit(how) {
    commitSoon.cancel();
    typing = false;
    onQuery(input.value.trim(), how);
  }

  input.addEventListener('input', () => {
    typing = true;
    commitSoon();
    suggestions?.update(input.value.trim());
  });

  input.addEventListener('keydown', (event) => {
    if (suggestions?.key(event)) return;
    if (event.key === 'ArrowDown') {
      event.preventDefault();
      onLeaveDown();
    } else if (event.key === 'Escape') {
      event.preventDefault();
      if (!onEscape() && input.value) {
        input.value = '';
        commit('submit');
      }
    }
  });

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    suggestions?.close();
    commit('submit');
  });

  return {
    /** Search for `text` now (a chosen suggestion). */
    submit(text) {
      input.value = text;
      commit('submit');
    },
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
