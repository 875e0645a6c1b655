import { defineConfig } from 'vitest/config';

// One run over every workspace: each package and example is a vitest project
// with its own vitest.config.ts (or the defaults).
export default defineConfig({
  test: {
    projects: [
      'packages/*/vitest.config.ts',
      'examples/*/vitest.config.ts',
      'bench/vitest.config.ts',
      'scripts/vitest.config.ts',
    ],
    reporters: process.env.AMESH_VITEST_JSON
      ? ['default', ['json', { outputFile: process.env.AMESH_VITEST_JSON }]]
      : ['default'],
  },
});
