#!/usr/bin/env node
// The `laminate` command: the built dist/main.js under plain Node, no loader.
// In a clone of the repository (tsconfig.json sits beside bin/, and is never
// packed) the packages are built first when dist/ is missing or stale, so the
// command always runs the code in src/.
import { existsSync } from 'node:fs';

if (existsSync(new URL('../tsconfig.json', import.meta.url))) {
  const { ensureBuilt } = await import(new URL('../../../scripts/build.mjs', import.meta.url).href);
  try {
    ensureBuilt();
  } catch (error) {
    console.error(error.message);
    process.exit(1);
  }
}
await import(new URL('../dist/main.js', import.meta.url).href);
