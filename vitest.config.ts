import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (path: string) => fileURLToPath(new URL(`./packages/${path}`, import.meta.url));

export default defineConfig({
  resolve: {
    conditions: ['source'],
    // A package's own tests import it by name, which Node allows (self-reference) and Vite needs spelled out.
    alias: [
      { find: /^@laminate\/core$/, replacement: src('core/src/index.ts') },
      { find: /^@laminate\/core\/testing$/, replacement: src('core/src/testing/index.ts') },
      { find: /^@laminate\/core\/layer$/, replacement: src('core/src/layer.ts') },
      { find: /^@laminate\/codecs$/, replacement: src('codecs/src/index.ts') },
      { find: /^@laminate\/arrow$/, replacement: src('arrow/src/index.ts') },
      { find: /^@laminate\/net$/, replacement: src('net/src/index.ts') },
      { find: /^@laminate\/redis$/, replacement: src('redis/src/index.ts') },
      { find: /^@laminate\/pool$/, replacement: src('pool/src/index.ts') },
      { find: /^laminate$/, replacement: src('laminate/src/index.ts') },
      { find: /^laminate\/layer$/, replacement: src('laminate/src/layer.ts') },
    ],
  },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'benchmarks/test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default'],
  },
});
