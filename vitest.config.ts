import { defineConfig } from 'vitest/config';

// GPU tests run on lavapipe, which already uses every core: run files in separate forks
// (Dawn must be torn down per process) and give slow software-GPU tests room.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    env: { XDG_RUNTIME_DIR: '/tmp' },
  },
});
