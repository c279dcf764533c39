// Tells the API which result of a search the visitor opened (GET /api/opened, never cached), so that the
// site owner's `make stats` knows which queries found what people wanted. Fire and forget: it never
// delays the visitor or shows an error, and keepalive lets it finish when the link leaves the page.
// The page's results and the <talk-search> widget both report through it.

/** Report that the talk `talkId` was opened from the results of the query `q` (as it was searched). */
export function reportOpened(apiBase, q, talkId) {
  const params = new URLSearchParams({ q: q ?? '', talk: talkId });
  fetch(`${apiBase}/opened?${params}`, { keepalive: true, credentials: 'omit', cache: 'no-store', mode: 'no-cors' })
    .catch(() => {}); // offline, blocked or refused: nothing for the visitor to see
}

/**
 * Report every result opened from `list`: a click (or Enter) or a middle click (a new tab) on a link
 * carrying the talk's id in `data-talk`. `shownQuery()` is the query whose results the list shows.
 */
export function reportOpensFrom(list, apiBase, shownQuery) {
  const opened = (event) => {
    const link = event.target.closest('a[data-talk]');
    if (link && (event.type === 'click' || event.button === 1)) reportOpened(apiBase, shownQuery(), link.dataset.talk);
  };
  list.addEventListener('click', opened);
  list.addEventListener('auxclick', opened);
}
