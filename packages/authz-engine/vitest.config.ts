import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: '@amesh/authz-engine',
    include: ['test/**/*.test.ts'],
  },
});
