import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Tests start real servers and child processes; keep them off each other's ports and CPU.
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
