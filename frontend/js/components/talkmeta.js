// The line under a talk's title (speakers, company, event, date, language), in the results, the
// talk view and its related talks. Each part is one element, so the stylesheet can keep it whole.

import { h } from '../dom.js';

/** The parts of a talk's meta line, for a <p class="meta">, dated in `i18n`'s language. */
export function talkMeta(talk, i18n) {
  const parts = [];
  const speakers = Array.isArray(talk.speakers) ? talk.speakers.filter(Boolean) : [];
  if (speakers.length) parts.push(h('span', { class: 'speakers' }, speakers.join(', ')));
  if (talk.company) parts.push(h('span', {}, talk.company));
  if (talk.event) parts.push(h('span', {}, talk.event));
  if (talk.date) parts.push(h('time', { datetime: talk.date }, i18n.formatDate(talk.date)));
  if (talk.lang) parts.push(h('span', { class: 'badge', lang: talk.lang }, talk.lang.toUpperCase()));
  return parts;
}
