import { defineConfig } from 'vitest/config';

// The machine has 2 cores; model and image tests are compute-bound, so give them room and run
// files one at a time rather than fighting over the cores.
export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 300_000,
    fileParallelism: false,
  },
});
