import { configDefaults, defineConfig } from 'vitest/config';

// Tests run through `npm test` (scripts/test.mjs), which starts the real
// PostgreSQL / Kafka they need and passes their addresses in the environment.
export default defineConfig({
  test: {
    include: ['services/*/test/**/*.test.ts', 'packages/*/test/**/*.test.ts', 'scripts/test/**/*.test.ts', 'test/**/*.test.ts', 'apps/*/test/**/*.test.ts'],
    // WALLET_BROWSER_TESTS=0 leaves out the browser tests (Chromium against the real system, test/browser).
    exclude: [...configDefaults.exclude, ...(process.env.WALLET_BROWSER_TESTS === '0' ? ['test/browser/**'] : [])],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default'],
    coverage: {
      provider: 'v8',
      include: ['services/*/src/**/*.ts', 'packages/platform/src/**/*.ts'],
      exclude: ['**/main.ts'],
      reporter: ['text-summary', 'json-summary'],
      reportsDirectory: 'coverage',
    },
  },
});
