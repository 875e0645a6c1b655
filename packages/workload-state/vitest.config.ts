import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: '@amesh/workload-state',
    include: ['test/**/*.test.ts'],
  },
});
