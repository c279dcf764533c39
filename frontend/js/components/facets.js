// Facets as checkable lists with counts: OR within a facet, AND across facets (the API does the
// logic; the view sends each checked value). Focus survives the re-render after each search.

import { activeElement, fill, h } from '../dom.js';
import { FACETS, toggleFilter } from '../url.js';

const SHOWN = 6; // values shown before "show more"

function ordered(facet, values) {
  return facet === 'year' ? [...values].sort((a, b) => String(b.value).localeCompare(String(a.value))) : values;
}

/** The facets `names` (all of them by default) in `root`; checking a value calls `view.go`. */
export function createFacets({ root, view, names = FACETS }) {
  const { t, formatNumber, languageName } = view.i18n;
  const expanded = new Set();

  const facets = {
    render(state, data) {
      const focused = activeElement(root);
      const focusedKey = root.contains(focused) ? focused.dataset.key : null;
      const groups = names.map((facet) => {
        const counts = (data.facets?.[facet] ?? []).filter((item) => item && item.value !== '' && item.value !== null);
        const selected = state.filters[facet];
        // a checked value the API no longer counts (e.g. from a shared link) must still be uncheckable
        const missing = selected.filter((value) => !counts.some((item) => String(item.value) === value));
        const values = ordered(facet, [...counts, ...missing.map((value) => ({ value, count: 0 }))]);
        if (!values.length) return null;
        const open = expanded.has(facet) || values.length <= SHOWN + 1;
        const visible = open ? values : values.filter((item, i) => i < SHOWN || selected.includes(String(item.value)));
        return h('fieldset', { class: 'facet', 'data-facet': facet },
          h('legend', {}, t(`facet.${facet}`)),
          h('ul', {}, visible.map((item) => {
            const value = String(item.value);
            const key = `${facet}\u0000${value}`;
            return h('li', {},
              h('label', {},
                h('input', { type: 'checkbox', checked: selected.includes(value), 'data-key': key,
                  onchange: () => view.go(toggleFilter(state, facet, value)) }),
                h('span', { class: 'facet-value' }, facet === 'lang' ? languageName(value) : value),
                h('span', { class: 'facet-count' }, formatNumber(item.count))));
          })),
          values.length > SHOWN + 1 ? h('button', { type: 'button', class: 'link-button', 'aria-expanded': String(open), 'data-key': `${facet}\u0000more`,
            onclick: () => {
              if (open) expanded.delete(facet);
              else expanded.add(facet);
              facets.render(state, data);
            } }, open ? t('showLess') : t('showMore')) : null);
      });
      fill(root, groups);
      if (focusedKey) [...root.querySelectorAll('[data-key]')].find((el) => el.dataset.key === focusedKey)?.focus();
    },
  };
  return facets;
}
