import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: '@amesh/ip',
    include: ['test/**/*.test.ts'],
  },
});
