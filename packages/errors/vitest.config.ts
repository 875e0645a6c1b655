import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: '@amesh/errors',
    include: ['test/**/*.test.ts'],
  },
});
