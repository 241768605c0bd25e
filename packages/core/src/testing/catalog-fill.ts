// Catalogs filled with seeded random unit vectors (clustered, as photo embeddings are) for
// benchmarks of loading and searching: no images, no model, any size.
import * as addon from '@clipkit/native-cuda';
import { openCatalog, type BatchEntry, type StoreFormat } from '../library/catalog/index.js';
import { Prng } from './prng.js';

export interface FillOptions {
  rows: number;
  dim: number;
  seed?: number;
  /** SQLite only (PostgreSQL stores f16). Default f16, so both engines hold the same values. */
  store?: StoreFormat;
}

/** Seeded clustered unit vectors, row-major [rows, dim]. */
export function clusteredUnitVectors(rows: number, dim: number, seed = 1, clusters = 64): Float32Array {
  const rng = new Prng(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
  const centers = Float32Array.from({ length: clusters * dim }, gauss);
  const out = new Float32Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    const c = rng.int(0, clusters);
    let norm = 0;
    for (let j = 0; j < dim; j++) {
      const v = (centers[c * dim + j] as number) + 0.6 * gauss();
      out[r * dim + j] = v;
      norm += v * v;
    }
    norm = Math.sqrt(norm);
    for (let j = 0; j < dim; j++) out[r * dim + j] = (out[r * dim + j] as number) / norm;
  }
  return out;
}

/** Writes `rows` random embeddings (one fake file each, /bench/N.jpg) into a new catalog. */
export async function fillCatalog(location: string, opts: FillOptions): Promise<void> {
  const { rows, dim, seed = 1 } = opts;
  const catalog = await openCatalog(location, { create: true });
  try {
    const model = await catalog.bindModel(
      { id: 'bench-random', projectionDim: dim, configHash: 'b'.repeat(64), weightsHash: null, dir: null },
      catalog.storage.engine === 'sqlite' ? (opts.store ?? 'f16') : undefined,
    );
    const chunk = 5000;
    for (let start = 0; start < rows; start += chunk) {
      const n = Math.min(chunk, rows - start);
      const vectors = clusteredUnitVectors(n, dim, seed * 1_000_003 + start);
      const values = model.store === 'f16' ? addon.toFloat16(vectors) : vectors;
      const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
      const rowBytes = dim * values.BYTES_PER_ELEMENT;
      const entries: BatchEntry[] = [];
      for (let i = 0; i < n; i++) {
        entries.push({
          files: [{ path: `/bench/${start + i}.jpg`, size: 1, mtimeMs: 0 }],
          content: { hash: `bench-${start + i}`, embedding: bytes.slice(i * rowBytes, (i + 1) * rowBytes) },
        });
      }
      await catalog.writeBatch(entries);
    }
  } finally {
    await catalog.close();
  }
}
