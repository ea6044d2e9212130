import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The interop suite (npm run test:interop): the real LiteLLM proxy and FastMCP servers from PyPI, installed
// by test/interop/setup.sh. Never part of npm test, which stays self-contained.
export default defineConfig({
  test: {
    root: fileURLToPath(new URL('../..', import.meta.url)),
    include: ['test/interop/**/*.test.ts'],
    exclude: ['**/node_modules/**', 'dist/**'],
    globalSetup: ['test/interop/global-setup.ts'],
    // LiteLLM takes tens of seconds to start on a loaded two-core machine.
    testTimeout: 120_000,
    hookTimeout: 240_000,
    pool: 'forks',
    // One LiteLLM at a time: each is a few hundred MB and most of a core while it starts.
    maxWorkers: 1,
    fileParallelism: false,
    // A missing peer fails the suite; it must never pass by running nothing.
    passWithNoTests: false,
  },
});
