#!/usr/bin/env node
// The `laminate` command. A published package runs its built dist/main.js.
// A clone of the repository has no build step and no dist/: there the
// TypeScript sources run in this same process, through tsx's loader (from this
// package's own devDependencies) and a hook that resolves the workspace
// packages to their sources, as `node --conditions=source --import tsx` does.
// One process, so signals (Ctrl-C, SIGTERM to `serve`), stdin and the exit
// status are the command's own, with no parent to forward them.
import { existsSync } from 'node:fs';
import { register } from 'node:module';

const dist = new URL('../dist/main.js', import.meta.url);
if (existsSync(dist)) {
  await import(dist.href);
} else {
  register('./source-condition.mjs', import.meta.url);
  const tsx = await import(import.meta.resolve('tsx/esm/api'));
  // tsconfig: false: the sources need no tsconfig, and one in the caller's
  // working directory (its paths, its module settings) must not change how they load.
  tsx.register({ tsconfig: false });
  await import(new URL('../src/main.ts', import.meta.url).href);
}
