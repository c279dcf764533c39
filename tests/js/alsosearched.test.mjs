// What the "also searched" line lists (frontend/js/components/hit.js), run by tests/test_page_logic.py.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { alsoSearchedTerms } from '../../frontend/js/components/hit.js';

test('the terms of every expanded run, each once, in order', () => {
  const expanded = [
    { from: 'conteneurs', to: ['containers', 'container'] },
    { from: 'k8s', to: ['kubernetes', 'containers'] },
  ];
  assert.deepEqual(alsoSearchedTerms(expanded), ['containers', 'container', 'kubernetes']);
});

test('an answer without expansions, or a malformed one, lists nothing', () => {
  assert.deepEqual(alsoSearchedTerms([]), []);
  assert.deepEqual(alsoSearchedTerms(undefined), []);
  assert.deepEqual(alsoSearchedTerms([{ from: 'x', to: 'not a list' }, null, { to: [3, ' '] }]), []);
});
