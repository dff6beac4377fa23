import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The native core is loaded once per process; separate processes keep guests apart.
    pool: 'forks',
    // End-to-end tests run the built CLI, so the build must match the sources under test.
    globalSetup: ['test/global-setup.ts'],
    setupFiles: ['test/yield-between-tests.ts', 'test/blocked-worker-watchdog.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
