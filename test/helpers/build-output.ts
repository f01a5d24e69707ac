import { existsSync } from 'node:fs';
import { repoPath } from './paths.js';

/** Fails with instructions when the electron-vite build output a test relies on is missing. */
export function requireBuilt(relativePath: string): string {
  const file = repoPath(relativePath);
  if (!existsSync(file)) {
    throw new Error(`${relativePath} is missing: build first with \`npx electron-vite build\` (\`npm test\` builds before running the tests)`);
  }
  return file;
}
