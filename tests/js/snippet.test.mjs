// Snippet splitting (frontend/js/components/hit.js): only <mark> survives, everything else is text.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { decodeEntities, splitSnippet } from '../../frontend/js/components/hit.js';

test('marks become marked segments and entities are decoded', () => {
  assert.deepEqual(splitSnippet('Déployer <mark>Kubernetes</mark> &amp; co'), [
    { text: 'Déployer ', mark: false },
    { text: 'Kubernetes', mark: true },
    { text: ' & co', mark: false },
  ]);
});

test('escaped markup stays visible text, never a tag', () => {
  const segments = splitSnippet('&lt;img src=x onerror=alert(1)&gt; <mark>talk</mark>');
  assert.deepEqual(segments[0], { text: '<img src=x onerror=alert(1)> ', mark: false });
  assert.deepEqual(segments[1], { text: 'talk', mark: true });
});

test('raw tags other than mark are kept as literal text', () => {
  assert.deepEqual(splitSnippet('<b>bold</b><script>x</script>'), [{ text: '<b>bold</b><script>x</script>', mark: false }]);
  assert.deepEqual(splitSnippet('<mark onclick=x>a</mark>'), [{ text: '<mark onclick=x>a', mark: false }]);
});

test('unbalanced and nested marks do not break the text', () => {
  assert.deepEqual(splitSnippet('a</mark>b'), [{ text: 'ab', mark: false }]);
  assert.deepEqual(splitSnippet('<mark>a<mark>b</mark>c</mark>d'), [
    { text: 'abc', mark: true },
    { text: 'd', mark: false },
  ]);
  assert.deepEqual(splitSnippet('<MARK>x</MARK>'), [{ text: 'x', mark: true }]);
  assert.deepEqual(splitSnippet('<mark>open'), [{ text: 'open', mark: true }]);
});

test('empty and missing snippets give no segments', () => {
  assert.deepEqual(splitSnippet(''), []);
  assert.deepEqual(splitSnippet(null), []);
  assert.deepEqual(splitSnippet(undefined), []);
});

test('numeric entities decode, invalid ones are left alone', () => {
  assert.equal(decodeEntities('&#233;t&#xE9; &quot;q&quot; &#39;s&apos; &nbsp;'), 'été "q" \'s\' \u00a0');
  assert.equal(decodeEntities('&#0; &#xD800; &#99999999; &bogus; & alone'), '&#0; &#xD800; &#99999999; &bogus; & alone');
  assert.equal(decodeEntities('&amp;lt;'), '&lt;', 'decoded once, not twice');
});

test('a cut right after a full stop shows the full stop, not ".…"', () => {
  assert.deepEqual(splitSnippet('la <mark>migration</mark> est finie.…'), [
    { text: 'la ', mark: false },
    { text: 'migration', mark: true },
    { text: ' est finie.', mark: false },
  ]);
  assert.equal(splitSnippet('Vraiment ?…').at(-1).text, 'Vraiment ?');
  assert.equal(splitSnippet('Oui ! …').at(-1).text, 'Oui !');
  // a cut inside a sentence keeps its ellipsis, and so does a leading one
  assert.equal(splitSnippet('…suite du texte sans fin…').at(-1).text, '…suite du texte sans fin…');
  assert.equal(splitSnippet('etc. et puis…').at(-1).text, 'etc. et puis…');
});
