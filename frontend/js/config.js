// Where the API lives. Same origin `/api` by default (the local stack and CloudFront both serve it
// there); a deployment can point elsewhere with <html data-api-base="https://api.example.org/api">
// (then allow that origin in the Content-Security-Policy's connect-src too).

import { DEFAULT_SIZE, MAX_SIZE } from './contracts.js';

const root = document.documentElement.dataset;

export const config = Object.freeze({
  apiBase: (root.apiBase || '/api').replace(/\/+$/, ''),
  pageSize: Math.min(Math.max(Number.parseInt(root.pageSize, 10) || DEFAULT_SIZE, 1), MAX_SIZE),
});
