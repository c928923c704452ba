import { createHash } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** A hash of every source file's path, size and mtime (src/, prisma/, tsconfig) — cheap, no file contents read. */
export function sourceFingerprint() {
  const hash = createHash('sha256');
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else {
        const st = statSync(full);
        hash.update(`${path.relative(root, full)}:${st.size}:${st.mtimeMs}\n`);
      }
    }
  };
  walk(path.join(root, 'src'));
  walk(path.join(root, 'prisma'));
  for (const f of ['tsconfig.json', 'tsconfig.build.json', 'package.json']) {
    const st = statSync(path.join(root, f));
    hash.update(`${f}:${st.size}:${st.mtimeMs}\n`);
  }
  return hash.digest('hex');
}
