// The PostgreSQL catalog against SQLite, on a server named by CLIPKIT_BENCH_PG_URL (or the tests'
// CLIPKIT_TEST_PG_URL; a role that may create databases): import throughput of two importers
// sharing a catalog vs one SQLite importer on the same files, loading the embedding matrix
// (10^6 × 512 in the full run) and exact top-10 over it from each engine, and pgvector HNSW:
// index build time, query p50 and recall@10 against exact search.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as addon from '@clipkit/native-cuda';
import { Library } from '@clipkit/core';
import { clusteredUnitVectors, fillCatalog, openCatalog, PgCatalog } from '@clipkit/core/testing';
import pg from 'pg';
import { measure, median } from '../harness.js';
import { SuiteSkipped, type BenchOptions, type BenchRow, type SuiteOutput } from '../types.js';
import { cachedModel, cachedPhotos } from './library.js';

const BATCH = 32;

async function freshDatabase(url: string, label: string): Promise<string> {
  const name = `clipkit_bench_${label}_${process.pid}_${Date.now()}`;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

async function dropDatabase(adminUrl: string, url: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${new URL(url).pathname.slice(1)} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

export async function benchPostgres(opts: BenchOptions): Promise<SuiteOutput> {
  const adminUrl = process.env.CLIPKIT_BENCH_PG_URL ?? process.env.CLIPKIT_TEST_PG_URL;
  if (!adminUrl) throw new SuiteSkipped('no PostgreSQL server: set CLIPKIT_BENCH_PG_URL to a role that may create databases (.ci/postgres.sh starts one)');
  const rows: BenchRow[] = [];
  const notes: string[] = [];
  const work = mkdtempSync(path.join(tmpdir(), 'clipkit-bench-pg-'));
  const databases: string[] = [];
  const db = async (label: string) => {
    const url = await freshDatabase(adminUrl, label);
    databases.push(url);
    return url;
  };
  try {
    // 1) Import: one SQLite importer vs two importers sharing one PostgreSQL catalog (in one
    //    process here, each with its own model). The addon's compute pool is process-wide, so the
    //    two share it: giving each "half the threads" set the whole pool to one thread.
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

    const importUrl = await db('import');
    const importers = await Promise.all([0, 1].map(() => Library.open(importUrl, { model: modelDir })));
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

    // 2) Exact search over the matrix loaded from each engine (same f16 values in both).
    const n = opts.tiny ? 2000 : opts.quick ? 100_000 : 1_000_000;
    const dim = opts.tiny ? 32 : 512;
    const shape = `${n.toLocaleString('en')} × ${dim}`;
    const litePath = path.join(work, 'search.db');
    const searchUrl = await db('search');
    await fillCatalog(litePath, { rows: n, dim, seed: 7, store: 'f16' });
    await fillCatalog(searchUrl, { rows: n, dim, seed: 7 });
    const queries = clusteredUnitVectors(opts.quick ? 20 : 50, dim, 99);
    const q = (i: number) => queries.subarray(i * dim, (i + 1) * dim);
    const engines = [
      { name: 'SQLite', location: litePath },
      { name: 'PostgreSQL', location: searchUrl },
    ];
    const exactTop: number[][] = [];
    for (const [e, engine] of engines.entries()) {
      const catalog = await openCatalog(engine.location, { readOnly: true });
      let matrix = await catalog.embeddings();
      const loadSeconds = await measure(async () => {
        matrix = await catalog.embeddings((length, store) => (store === 'f16' ? addon.hostArray(length, 'f16') : addon.hostArray(length)));
      }, { warmup: 0, repeats: opts.quick ? 1 : 2 });
      await catalog.close();
      rows.push({
        name: `load ${shape} f16 matrix from ${engine.name}`,
        unit: 'ms',
        value: loadSeconds * 1e3,
        ...(e > 0 ? { baseline: `load ${shape} f16 matrix from SQLite` } : {}),
      });
      const topk = (v: Float32Array) => addon.similarityTopK(v, matrix.data, { m: 1, n: matrix.rows, d: dim, k: 10 });
      const searchSeconds = await measure(() => {
        for (let i = 0; i < queries.length / dim; i++) topk(q(i));
      }, { warmup: 1, repeats: 3 });
      rows.push({
        name: `exact top-10 over ${shape} loaded from ${engine.name}`,
        unit: 'ms',
        value: (searchSeconds * 1e3) / (queries.length / dim),
        ...(e > 0 ? { baseline: `exact top-10 over ${shape} loaded from SQLite` } : {}),
      });
      if (e === 1) for (let i = 0; i < queries.length / dim; i++) exactTop.push(Array.from(topk(q(i)).indices, (r) => matrix.contentIds[r] as number));
    }

    // 3) pgvector HNSW on the same PostgreSQL catalog.
    const hnsw = (await openCatalog(searchUrl, { readOnly: true, index: 'hnsw' })) as PgCatalog;
    try {
      const buildSeconds = await hnsw.ensureHnsw();
      rows.push({ name: `HNSW index build over ${shape} (pgvector, m 16, ef_construction 64)`, unit: 'ms', value: buildSeconds * 1e3 });
      const times: number[] = [];
      let hits = 0;
      for (let i = 0; i < exactTop.length; i++) {
        const t = performance.now();
        const top = await hnsw.nearest(q(i), 10);
        times.push(performance.now() - t);
        const truth = new Set(exactTop[i]);
        hits += top.filter((h) => truth.has(h.contentId)).length;
      }
      const recall = hits / (10 * exactTop.length);
      rows.push({
        name: `HNSW top-10 query over ${shape} (server-side, p50)`,
        unit: 'ms',
        value: median(times),
        baseline: `exact top-10 over ${shape} loaded from PostgreSQL`,
        note: `recall@10 vs exact ${recall.toFixed(3)}, ef_search 100`,
      });
      notes.push(`HNSW recall@10 against clipkit's exact top-10: ${recall.toFixed(3)} over ${exactTop.length} queries.`);
    } finally {
      await hnsw.close();
    }
  } finally {
    for (const url of databases) await dropDatabase(adminUrl, url).catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
  }
  return { rows, notes };
}
