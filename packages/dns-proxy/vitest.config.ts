import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: '@amesh/dns-proxy',
    include: ['test/**/*.test.ts'],
  },
});
