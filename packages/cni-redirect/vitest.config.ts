import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: '@amesh/cni-redirect',
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Privileged tests create network namespaces; run files one at a time so
    // two files never race on the same host resources.
    fileParallelism: false,
  },
});
