// A catalog of any size without encoding a single image: seeded random unit embeddings written
// through the Catalog interface, one row per given file. Benchmarks of search and `clipkit serve`
// use it for 10^5 images, which would take days to import on a CPU.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { openCatalog, type BatchEntry, type ModelIdentity } from '../library/catalog/index.js';
import { Prng } from './prng.js';

export interface SyntheticCatalogOptions {
  /** The model the catalog claims (e.g. a loaded Clip's info), so queries with it are accepted. */
  model: ModelIdentity;
  /** One catalog file per path; each must exist (its size and date are recorded). */
  files: readonly string[];
  /** Folders recorded as imported (what `clipkit serve` may hand out). */
  roots: readonly string[];
  seed?: number;
}

const BATCH = 2000;

export async function writeSyntheticCatalog(dbPath: string, opts: SyntheticCatalogOptions): Promise<void> {
  const catalog = await openCatalog(dbPath, { create: true });
  try {
    const lease = await catalog.acquireWriter();
    try {
      await catalog.bindModel(opts.model, 'f32');
      const dim = opts.model.projectionDim;
      const rng = new Prng(opts.seed ?? 1);
      const row = new Float32Array(dim);
      for (let start = 0; start < opts.files.length; start += BATCH) {
        const entries: BatchEntry[] = [];
        for (let i = start; i < Math.min(start + BATCH, opts.files.length); i++) {
          let norm = 0;
          for (let j = 0; j < dim; j++) {
            row[j] = rng.normal();
            norm += (row[j] as number) ** 2;
          }
          for (let j = 0; j < dim; j++) row[j] = (row[j] as number) / Math.sqrt(norm);
          const file = opts.files[i] as string;
          const st = fs.statSync(file);
          entries.push({
            files: [{ path: file, size: st.size, mtimeMs: st.mtimeMs }],
            content: { hash: createHash('sha256').update(`synthetic ${opts.seed ?? 1} ${i}`).digest('hex'), embedding: new Uint8Array(row.slice().buffer) },
          });
        }
        await catalog.writeBatch(entries);
      }
      for (const root of opts.roots) await catalog.addRoot(root);
    } finally {
      await lease.release();
    }
  } finally {
    await catalog.close();
  }
}
