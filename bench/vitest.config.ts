import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: '@amesh/bench',
    include: ['test/**/*.test.ts'],
  },
});
