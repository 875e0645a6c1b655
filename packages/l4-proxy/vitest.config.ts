import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: '@amesh/l4-proxy',
    include: ['test/**/*.test.ts'],
  },
});
