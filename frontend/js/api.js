// The API client. Each kind of request (search, suggest, talk) is a channel where only the latest
// request counts: starting one aborts the previous, and an answer that is no longer the latest is
// dropped (a counter: an abort can lose the race with a response already read). And the results
// opened, for `make stats`.

export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.name = 'ApiError';
    this.status = status; // 0 when the API could not be reached
  }
}

/** What a channel resolves to when a newer request replaced it. */
export const STALE = Symbol('stale');

export function createApi(base) {
  const channels = new Map();

  /** Abort the channel's request, if any: what comes next on it is the latest. */
  function renew(channel) {
    const previous = channels.get(channel);
    previous?.controller.abort();
    const current = { seq: (previous?.seq ?? 0) + 1, controller: new AbortController() };
    channels.set(channel, current);
    return current;
  }

  async function latest(channel, path, params) {
    const current = renew(channel);
    const isStale = () => channels.get(channel).seq !== current.seq;
    const query = params ? `?${params}` : '';
    let response;
    let body = null;
    try {
      response = await fetch(`${base}${path}${query}`, {
        signal: current.controller.signal,
        headers: { Accept: 'application/json' },
      });
      body = await response.json().catch(() => null);
    } catch (error) {
      if (isStale() || error.name === 'AbortError') return STALE;
      throw new ApiError('', 0);
    }
    if (isStale()) return STALE;
    if (!response.ok) throw new ApiError(typeof body?.message === 'string' ? body.message : '', response.status);
    if (body === null) throw new ApiError('', response.status);
    return body;
  }

  return {
    /** get('suggest', '/suggest', params): the answer of `path` on the channel `channel`, or STALE. */
    get: latest,
    search: (params) => latest('search', '/search', params),
    cancel: renew,
  };
}

/** Report each `a[data-talk]` of `list` opened (click, Enter, middle click) from the results of `shownQuery()`:
 * fire and forget (keepalive outlives the page). */
export function reportOpensFrom(list, apiBase, shownQuery) {
  const opened = (event) => {
    const link = event.target.closest('a[data-talk]');
    if (!link || (event.type !== 'click' && event.button !== 1)) return;
    const params = new URLSearchParams({ q: shownQuery() ?? '', talk: link.dataset.talk });
    fetch(`${apiBase}/opened?${params}`, { keepalive: true, credentials: 'omit', cache: 'no-store', mode: 'no-cors' })
      .catch(() => {}); // offline, blocked or refused: nothing for the visitor to see
  };
  list.addEventListener('click', opened);
  list.addEventListener('auxclick', opened);
}
