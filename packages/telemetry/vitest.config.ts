import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: '@amesh/telemetry',
    include: ['test/**/*.test.ts'],
  },
});
