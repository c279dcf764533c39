// The API's snippet is escaped HTML whose only markup is <mark>. Never handed to innerHTML: split into
// text segments for text nodes and <mark> elements, anything else stays text. Pure, tested with node.

// The API marks a cut with "…"; right after a full stop (or ? !) the sentence is whole: "done.…" -> "done."
const CUT_AFTER_SENTENCE = /([.!?])\s*…$/;

const NAMED = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

export function decodeEntities(text) {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, name) => {
    if (name[0] === '#') {
      const code = name[1] === 'x' || name[1] === 'X' ? Number.parseInt(name.slice(2), 16) : Number(name.slice(1));
      return code > 0 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff) ? String.fromCodePoint(code) : whole;
    }
    return NAMED[name.toLowerCase()] ?? whole;
  });
}

/** `a <mark>b</mark> &amp; c` -> [{text: 'a ', mark: false}, {text: 'b', mark: true}, {text: ' & c', mark: false}]
 * (a cut right after a sentence's end loses its "…"). */
export function splitSnippet(html) {
  const segments = [];
  let depth = 0;
  for (const part of String(html ?? '').split(/(<\/?mark>)/i)) {
    const tag = part.toLowerCase();
    if (tag === '<mark>') depth += 1;
    else if (tag === '</mark>') depth = Math.max(depth - 1, 0);
    else if (part) {
      const text = decodeEntities(part);
      const mark = depth > 0;
      const last = segments.at(-1);
      if (last && last.mark === mark) last.text += text;
      else segments.push({ text, mark });
    }
  }
  const last = segments.at(-1);
  if (last && !last.mark) last.text = last.text.replace(CUT_AFTER_SENTENCE, '$1');
  return segments;
}
