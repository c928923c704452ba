// `npm start` runs this first: build dist/ when it is missing or older than the sources, else do nothing (fast).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { sourceFingerprint } from './source-fingerprint.mjs';

let built = '';
try {
  built = readFileSync(new URL('../dist/.build-stamp', import.meta.url), 'utf8');
} catch {
  // never built
}
if (built !== sourceFingerprint()) {
  process.stderr.write('sso-bridge: building dist/ …\n');
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const r = spawnSync(npm, ['run', '-s', 'build'], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
