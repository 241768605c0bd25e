// The memory a pgvector HNSW build is given: enough for the graph where the cap allows, never
// less than the server or role already grants.
import { describe, expect, it } from 'vitest';
import { HNSW_SESSION_MEMORY_CAP, hnswBuildMemory, hnswGraphBytesPerRow } from '../src/library/catalog/postgres/hnsw-memory.js';

const MB = 1 << 20;

describe('hnswBuildMemory', () => {
  it('raises the default 64 MB to the graph of a mid-sized catalog, with a margin', () => {
    const got = hnswBuildMemory(200_000, 512, 64 * MB);
    expect(got).toBeGreaterThanOrEqual(200_000 * hnswGraphBytesPerRow(512));
    expect(got).toBeLessThan(1.2 * 200_000 * hnswGraphBytesPerRow(512));
  });

  it('stops at the cap for a catalog whose graph is larger', () => {
    expect(hnswBuildMemory(1_000_000, 512, 64 * MB)).toBe(HNSW_SESSION_MEMORY_CAP);
  });

  it('keeps a larger setting of the server or role', () => {
    expect(hnswBuildMemory(1_000_000, 512, 4096 * MB)).toBe(4096 * MB);
    expect(hnswBuildMemory(10, 512, 64 * MB)).toBe(64 * MB);
  });
});
