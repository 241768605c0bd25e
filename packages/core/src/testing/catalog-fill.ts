// Catalogs filled with seeded random unit vectors (clustered, as photo embeddings are) for
// benchmarks of loading and searching: no images, no model, any size.
import * as addon from '@clipkit/native-cuda';
import { openCatalog, type BatchEntry, type Catalog, type StoreFormat } from '../library/catalog/index.js';
import { Prng } from './prng.js';

export interface FillOptions {
  rows: number;
  dim: number;
  seed?: number;
  /** SQLite only (PostgreSQL stores f16). Default f16, so both engines hold the same values. */
  store?: StoreFormat;
}

/** fillCatalog's rows come in chunks of this many, each chunk with clusters of its own. */
const CHUNK = 5000;
const chunkSeed = (seed: number, start: number) => seed * 1_000_003 + start;

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

/**
 * Writes `rows` random embeddings (one fake file each, /bench/N.jpg) into each new catalog at
 * `locations`: the same rows in each, every chunk generated once and written to all the
 * catalogs at once (a server engine inserts while this process writes the next).
 */
export async function fillCatalog(locations: string | readonly string[], opts: FillOptions): Promise<void> {
  const { rows, dim, seed = 1 } = opts;
  const catalogs: Catalog[] = [];
  try {
    for (const location of typeof locations === 'string' ? [locations] : locations) catalogs.push(await openCatalog(location, { create: true }));
    const identity = { id: 'bench-random', projectionDim: dim, configHash: 'b'.repeat(64), weightsHash: null, dir: null };
    const models = await Promise.all(
      catalogs.map((c) => c.bindModel(identity, c.storage.engine === 'sqlite' ? (opts.store ?? 'f16') : undefined)),
    );
    for (let start = 0; start < rows; start += CHUNK) {
      const n = Math.min(CHUNK, rows - start);
      const vectors = clusteredUnitVectors(n, dim, chunkSeed(seed, start));
      const batches = new Map<StoreFormat, BatchEntry[]>();
      const batch = (store: StoreFormat): BatchEntry[] => {
        let entries = batches.get(store);
        if (!entries) batches.set(store, (entries = batchOf(store === 'f16' ? addon.toFloat16(vectors) : vectors, start, n, dim)));
        return entries;
      };
      await Promise.all(catalogs.map((c, i) => c.writeBatch(batch(models[i]!.store))));
    }
  } finally {
    for (const c of catalogs) await c.close();
  }
}

function batchOf(values: Float32Array | Uint16Array, start: number, n: number, dim: number): BatchEntry[] {
  const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const rowBytes = dim * values.BYTES_PER_ELEMENT;
  const entries: BatchEntry[] = [];
  for (let i = 0; i < n; i++) {
    entries.push({
      files: [{ path: `/bench/${start + i}.jpg`, size: 1, mtimeMs: 0 }],
      content: { hash: `bench-${start + i}`, embedding: bytes.slice(i * rowBytes, (i + 1) * rowBytes) },
    });
  }
  return entries;
}

/**
 * `count` new vectors drawn from the clusters of the catalog that fillCatalog(…, opts) writes,
 * spread over its chunks: queries with true neighbours (as a photo has similar photos), where
 * vectors from unrelated clusters would all score about alike and rank by noise.
 */
export function catalogQueries(opts: FillOptions, count: number): Float32Array {
  const { rows, dim, seed = 1 } = opts;
  const chunks = Math.ceil(rows / CHUNK);
  const out = new Float32Array(count * dim);
  for (let c = 0, i = 0; c < chunks; c++) {
    const m = Math.floor(((c + 1) * count) / chunks) - Math.floor((c * count) / chunks);
    if (m === 0) continue;
    // The chunk's own generator drawing m rows past the chunk: its clusters, fresh rows.
    const n = Math.min(CHUNK, rows - c * CHUNK);
    out.set(clusteredUnitVectors(n + m, dim, chunkSeed(seed, c * CHUNK)).subarray(n * dim), i * dim);
    i += m;
  }
  return out;
}
