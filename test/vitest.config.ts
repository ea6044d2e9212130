import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    root: fileURLToPath(new URL('..', import.meta.url)),
    include: ['test/**/*.test.{ts,tsx}'],
    // test/interop needs the Python peers of setup.sh: npm run test:interop, not npm test.
    exclude: ['**/node_modules/**', 'dist/**', 'test/interop/**'],
    // Deadlines, not measurements: generous, so a loaded machine (npm run test:load) is slower, not red.
    testTimeout: 300_000,
    hookTimeout: 300_000,
    // Two cores on CI: two workers keep the socket-heavy files from starving each other.
    pool: 'forks',
    maxWorkers: 2,
  },
});
