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
import { median } from '../harness.js';
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
    // giving each "half the threads" set the whole pool to one thread. Models are loaded and
    // warmed (weights read and packed) before the clock starts on both sides: that is a fixed
    // cost per process, not import throughput, and timing it would charge the two importers
    // twice what the one pays. Imports go in turns (SQLite, PostgreSQL, PostgreSQL, SQLite, …),
    // each into a fresh catalog: one import is seconds, and a shared machine drifts that fast.
    const modelDir = cachedModel(opts.tiny ?? false);
    const photos = await cachedPhotos(opts);
    const count = readdirSync(photos.dir).filter((f) => f.endsWith('.jpg')).length;
    const what = `${count} ${((photos.width * photos.height) / 1e6).toFixed(1)}MP JPEGs`;
    const turns = opts.quick ? 2 : 3;
    const seconds: number[][] = [[], []];
    const split: string[] = [];
    const importers = async (location: string, n: number) => {
      const libs = await Promise.all(Array.from({ length: n }, () => Library.open(location, { model: modelDir })));
      for (const l of libs) await l.loadModel();
      return libs;
    };
    const timed = async (libs: Library[]) => {
      const t0 = performance.now();
      const summaries = await Promise.all(libs.map((l) => l.import(photos.dir, { batchSize: BATCH })));
      const s = (performance.now() - t0) / 1e3;
      for (const l of libs) await l.close();
      const encoded = summaries.reduce((n, x) => n + x.encoded, 0);
      if (encoded !== count) throw new Error(`${libs.length} importer(s) encoded ${encoded} of ${count} photos`);
      return { s, split: summaries.map((x) => x.encoded).join(' + ') };
    };
    for (let turn = 0; turn < turns; turn++) {
      for (const side of turn % 2 ? [1, 0] : [0, 1]) {
        if (side === 0) {
          const run = await timed(await importers(path.join(work, `import-${turn}.db`), 1));
          seconds[0]!.push(run.s);
        } else {
          const url = (importUrl = await freshDatabase(adminUrl, 'bench_import'));
          const run = await timed(await importers(url, 2));
          seconds[1]!.push(run.s);
          split.push(run.split);
          await dropDatabase(adminUrl, url);
          importUrl = null;
        }
      }
    }
    const liteName = `import ${what}, 1 importer → SQLite`;
    const rate = (s: number[]) => count / median(s);
    const spread = (s: number[]) => `${(count / Math.max(...s)).toFixed(1)}–${(count / Math.min(...s)).toFixed(1)} images/s`;
    rows.push({ name: liteName, unit: 'images/s', value: rate(seconds[0]!), note: `median of ${turns} imports taken in turns (${spread(seconds[0]!)})` });
    const turnRatios = seconds[0]!.map((s, t) => s / seconds[1]![t]!);
    rows.push({
      name: `import ${what}, 2 importers → PostgreSQL`,
      unit: 'images/s',
      value: rate(seconds[1]!),
      baseline: liteName,
      note:
        `median of ${turns} (${spread(seconds[1]!)}); median of the per-turn ratios ${median(turnRatios).toFixed(3)}×; ` +
        `encoded ${split.join(', ')}; one ${addon.nativeInfo().cpu.threads}-thread compute pool shared`,
    });
  } finally {
    if (importUrl) await dropDatabase(adminUrl, importUrl).catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
  }
  return { rows };
}
