// Import into a PostgreSQL catalog against SQLite, on a server named by CLIPKIT_BENCH_PG_URL (or
// the tests' CLIPKIT_TEST_PG_URL; a role that may create databases): throughput of two importers
// sharing a catalog vs one SQLite importer on the same files. Search over such a catalog is the
// suite postgres-search.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as addon from '@clipkit/native-cuda';
import { Library } from '@clipkit/core';
import { dropDatabase, freshDatabase } from '@clipkit/core/testing';
import { SuiteSkipped, type BenchOptions, type BenchRow, type SuiteOutput } from '../types.js';
import { cachedModel, cachedPhotos } from './library.js';

const BATCH = 32;

/** The server of the PostgreSQL suites; SuiteSkipped (saying how to get one) without. */
export function benchServerUrl(): string {
  const url = process.env.CLIPKIT_BENCH_PG_URL ?? process.env.CLIPKIT_TEST_PG_URL;
  if (!url) throw new SuiteSkipped('no PostgreSQL server: set CLIPKIT_BENCH_PG_URL to a role that may create databases (.ci/postgres.sh starts one)');
  return url;
}

export async function benchPostgres(opts: BenchOptions): Promise<SuiteOutput> {
  const adminUrl = benchServerUrl();
  const rows: BenchRow[] = [];
  const work = mkdtempSync(path.join(tmpdir(), 'clipkit-bench-pg-'));
  let importUrl: string | null = null;
  try {
    // One SQLite importer vs two importers sharing one PostgreSQL catalog (in one process here,
    // each with its own model). The addon's compute pool is process-wide, so the two share it:
    // giving each "half the threads" set the whole pool to one thread.
    const modelDir = cachedModel(opts.tiny ?? false);
    const photos = await cachedPhotos(opts);
    const count = readdirSync(photos.dir).filter((f) => f.endsWith('.jpg')).length;
    const what = `${count} ${((photos.width * photos.height) / 1e6).toFixed(1)}MP JPEGs`;
    const lite = await Library.open(path.join(work, 'import.db'), { model: modelDir });
    let t0 = performance.now();
    await lite.import(photos.dir, { batchSize: BATCH });
    const liteSeconds = (performance.now() - t0) / 1e3;
    await lite.close();
    const liteName = `import ${what}, 1 importer → SQLite`;
    rows.push({ name: liteName, unit: 'images/s', value: count / liteSeconds });

    const url = (importUrl = await freshDatabase(adminUrl, 'bench_import'));
    const importers = await Promise.all([0, 1].map(() => Library.open(url, { model: modelDir })));
    t0 = performance.now();
    const summaries = await Promise.all(importers.map((l) => l.import(photos.dir, { batchSize: BATCH })));
    const pgSeconds = (performance.now() - t0) / 1e3;
    for (const l of importers) await l.close();
    const encoded = summaries.reduce((n, s) => n + s.encoded, 0);
    if (encoded !== count) throw new Error(`two importers encoded ${encoded} of ${count} photos`);
    rows.push({
      name: `import ${what}, 2 importers → PostgreSQL`,
      unit: 'images/s',
      value: count / pgSeconds,
      baseline: liteName,
      note: `${summaries.map((s) => s.encoded).join(' + ')} encoded, one ${addon.nativeInfo().cpu.threads}-thread compute pool shared`,
    });
  } finally {
    if (importUrl) await dropDatabase(adminUrl, importUrl).catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
  }
  return { rows };
}
