// Records which sources dist/ was built from, so `npm start` rebuilds only when something changed.
import { writeFileSync } from 'node:fs';
import { sourceFingerprint } from './source-fingerprint.mjs';

writeFileSync(new URL('../dist/.build-stamp', import.meta.url), sourceFingerprint());
