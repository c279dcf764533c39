// Pagination: previous / numbered pages / next, as real links so every page has its own URL.

import { DEFAULT_SIZE, MAX_PAGE } from '../contracts.js';
import { fill, h, stateLink } from '../dom.js';

/** The page numbers to show: first, last, and a window around the current one (0 marks a gap). */
export function pageWindow(page, last) {
  const pages = [];
  for (let n = 1; n <= last; n += 1) {
    if (n === 1 || n === last || Math.abs(n - page) <= 1) pages.push(n);
    else if (pages.at(-1) !== 0) pages.push(0);
  }
  return pages;
}

export function createPager({ root, view }) {
  const { t, formatNumber } = view.i18n;
  return {
    render(state, data) {
      const size = data.size || DEFAULT_SIZE;
      const last = Math.min(Math.ceil((data.total || 0) / size), MAX_PAGE);
      root.hidden = last <= 1;
      if (last <= 1) return fill(root);
      const page = Math.min(state.page, last);
      const to = (n) => ({ ...state, page: n });
      fill(root, h('ul', {},
        h('li', {}, page > 1 ? stateLink(view, to(page - 1), { rel: 'prev' }, `← ${t('previous')}`) : h('span', { class: 'disabled' }, `← ${t('previous')}`)),
        pageWindow(page, last).map((n) =>
          h('li', { class: 'page-number' }, n === 0 ? h('span', { class: 'gap' }, '…')
            : stateLink(view, to(n), { 'aria-label': t('pageN', { n }), 'aria-current': n === page ? 'page' : null }, formatNumber(n)))),
        h('li', {}, page < last ? stateLink(view, to(page + 1), { rel: 'next' }, `${t('next')} →`) : h('span', { class: 'disabled' }, `${t('next')} →`))));
    },
  };
}
