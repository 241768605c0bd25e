// The benchmark's seeded catalogs: the same rows in every catalog one call fills, and queries
// that have true neighbours in them (the HNSW recall is measured with those).
import path from 'node:path';
import { fromFloat16 } from '@clipkit/native-cuda';
import { describe, expect, it } from 'vitest';
import { openCatalog } from '../src/library/catalog/index.js';
import { catalogQueries, clusteredUnitVectors, fillCatalog } from '../src/testing/catalog-fill.js';
import { scratchDir } from './helpers/tmp-dir.js';

const tmp = scratchDir('catalog-fill');
const FILL = { rows: 12_000, dim: 16, seed: 3 };

async function matrix(location: string) {
  const c = await openCatalog(location, { readOnly: true });
  try {
    return await c.embeddings();
  } finally {
    await c.close();
  }
}

/** For each query, its best dot product with a row of the catalog. */
function bestScores(queries: Float32Array, rows: Float32Array, dim: number): number[] {
  const best: number[] = [];
  for (let q = 0; q * dim < queries.length; q++) {
    let top = -Infinity;
    for (let r = 0; r * dim < rows.length; r++) {
      let dot = 0;
      for (let j = 0; j < dim; j++) dot += queries[q * dim + j]! * rows[r * dim + j]!;
      top = Math.max(top, dot);
    }
    best.push(top);
  }
  return best;
}

describe('fillCatalog and catalogQueries', () => {
  it('writes the same rows into every catalog of one call, in each one\'s format', async () => {
    const dir = tmp();
    const [a, b] = [path.join(dir, 'a.db'), path.join(dir, 'b.db')];
    await fillCatalog([a, b], { ...FILL, rows: 7_000 });
    const [ma, mb] = [await matrix(a), await matrix(b)];
    expect(ma.rows).toBe(7_000);
    expect(ma.store).toBe('f16');
    expect(Array.from(mb.contentIds)).toEqual(Array.from(ma.contentIds));
    expect(Buffer.compare(Buffer.from(ma.data.buffer), Buffer.from(mb.data.buffer))).toBe(0);
    const f32 = path.join(dir, 'f32.db');
    await fillCatalog(f32, { ...FILL, rows: 7_000, store: 'f32' });
    const mf = await matrix(f32);
    expect(mf.store).toBe('f32');
    const halves = fromFloat16(ma.data as Uint16Array);
    let maxAbs = 0;
    for (let i = 0; i < halves.length; i++) maxAbs = Math.max(maxAbs, Math.abs(halves[i]! - mf.data[i]!));
    expect(maxAbs).toBeLessThan(1e-3); // f16 rounding of unit vectors' entries, nothing else
    expect(maxAbs).toBeGreaterThan(0);
  });

  it('draws queries near rows of the catalog, unlike vectors of unrelated clusters', async () => {
    const dir = tmp();
    const location = path.join(dir, 'f32.db');
    await fillCatalog(location, { ...FILL, store: 'f32' });
    const rows = (await matrix(location)).data as Float32Array;
    const queries = catalogQueries(FILL, 6);
    const near = bestScores(queries, rows, FILL.dim);
    const unrelated = bestScores(clusteredUnitVectors(6, FILL.dim, 99), rows, FILL.dim);
    // No query is a row of the catalog (fresh draws), yet each is closer than any unrelated one.
    for (const s of near) expect(s).toBeLessThan(0.9999);
    expect(Math.min(...near)).toBeGreaterThan(Math.max(...unrelated));
    // Six different queries (three chunks of 5000 rows, two from each).
    expect(new Set(Array.from({ length: 6 }, (_, i) => queries[i * FILL.dim])).size).toBe(6);
  });
});
