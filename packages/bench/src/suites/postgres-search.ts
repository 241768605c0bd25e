// Search over a catalog held in PostgreSQL against the same catalog in SQLite (10^6 × 512 in the
// full run): loading the embedding matrix from each engine, clipkit's exact top-10 over each
// matrix, and pgvector's HNSW index on the server (build time, query p50, recall@10 against
// exact search). No images and no model: the catalogs are filled with seeded vectors, so this
// suite alone (`--only postgres-search`) runs at full scale in minutes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as addon from '@clipkit/native-cuda';
import { catalogQueries, dropDatabase, fillCatalog, freshDatabase, hnswGraphBytesPerRow, openCatalog, PgCatalog, sql, type Catalog } from '@clipkit/core/testing';
import pg from 'pg';
import { median } from '../harness.js';
import { hugePageShares } from '../huge-pages.js';
import type { BenchOptions, BenchRow, SuiteOutput } from '../types.js';
import { benchServerUrl } from './postgres.js';

type Matrix = Awaited<ReturnType<Catalog['embeddings']>>;

const hostArrays = (length: number, store: 'f16' | 'f32') => (store === 'f16' ? addon.hostArray(length, 'f16') : addon.hostArray(length));

export async function benchPostgresSearch(opts: BenchOptions): Promise<SuiteOutput> {
  const adminUrl = benchServerUrl();
  const rows: BenchRow[] = [];
  const notes: string[] = [];
  const n = opts.tiny ? 2000 : opts.quick ? 100_000 : 1_000_000;
  const dim = opts.tiny ? 32 : 512;
  const shape = `${n.toLocaleString('en')} × ${dim}`;
  const work = mkdtempSync(path.join(tmpdir(), 'clipkit-bench-pg-search-'));
  const litePath = path.join(work, 'search.db');
  const url = await freshDatabase(adminUrl, 'bench_search');
  const catalogs: Catalog[] = [];
  try {
    const fill = { rows: n, dim, seed: 7, store: 'f16' as const };
    let t0 = performance.now();
    await fillCatalog([url, litePath], fill);
    const fillSeconds = (performance.now() - t0) / 1e3;
    // A catalog in use has long been vacuumed (hint bits set, statistics taken); a fresh bulk
    // load has not, and autovacuum would otherwise do it in the middle of the timings below.
    t0 = performance.now();
    await sql(url, 'VACUUM (ANALYZE) clipkit.contents');
    notes.push(`filling both catalogs with ${shape} took ${fillSeconds.toFixed(0)} s, VACUUM ANALYZE ${((performance.now() - t0) / 1e3).toFixed(0)} s`);

    // 1) Loads, in turns (SQLite, PostgreSQL, PostgreSQL, SQLite, …) so that neither engine gets
    //    the quieter minute or the warmer caches; each keeps the matrix of its last load.
    const engines = ['SQLite', 'PostgreSQL'] as const;
    for (const location of [litePath, url]) catalogs.push(await openCatalog(location, { readOnly: true }));
    const matrices: Array<Matrix | null> = [null, null];
    const loadMs: number[][] = [[], []];
    const bytes = n * dim * 2;
    const loadTurns = opts.quick ? 2 : 3;
    for (let turn = 0; turn < loadTurns; turn++) {
      for (const e of turn % 2 ? [1, 0] : [0, 1]) {
        matrices[e] = null;
        const t = performance.now();
        matrices[e] = await catalogs[e]!.embeddings(hostArrays);
        loadMs[e]!.push(performance.now() - t);
      }
    }
    const [lite, pgm] = matrices as [Matrix, Matrix];
    sameMatrix(lite, pgm);
    for (const [e, engine] of engines.entries()) {
      rows.push({
        name: `load ${shape} f16 matrix from ${engine}`,
        unit: 'ms',
        value: median(loadMs[e]!),
        note: `median of ${loadTurns} loads taken in turns`,
        ...(e > 0 ? { baseline: `load ${shape} f16 matrix from SQLite` } : {}),
      });
    }

    // 2) Exact top-10: the same kernel over the same values, so any gap is placement or noise.
    //    Many short turns, alternating, each turn the same queries on both sides: the load of a
    //    shared machine drifts within seconds, and a per-turn ratio cancels what both sides saw.
    const count = opts.quick ? 20 : 50;
    const perTurn = 10;
    const turns = opts.quick ? 6 : 12;
    // New photos of the kinds in the catalog: every other one searched, the rest warm HNSW up.
    const drawn = catalogQueries(fill, 2 * count);
    const q = (i: number, warm = 0) => drawn.subarray((2 * i + warm) * dim, (2 * i + warm + 1) * dim);
    const topk = (m: Matrix, i: number) => addon.similarityTopK(q(i), m.data, { m: 1, n: m.rows, d: dim, k: 10 });
    const exactTop: number[][] = [];
    for (let i = 0; i < count; i++) {
      const top = sameTop(topk(lite, i), topk(pgm, i), i); // also the warm-up
      exactTop.push(Array.from(top.indices, (r) => pgm.contentIds[r] as number));
    }
    const searchMs: number[][] = [[], []];
    for (let turn = 0; turn < turns; turn++) {
      const first = (turn * perTurn) % count;
      for (const e of turn % 2 ? [1, 0] : [0, 1]) {
        const m = matrices[e] as Matrix;
        const t = performance.now();
        for (let i = first; i < first + perTurn; i++) topk(m, i % count);
        searchMs[e]!.push((performance.now() - t) / perTurn);
      }
    }
    const turnRatios = searchMs[0]!.map((ms, t) => ms / searchMs[1]![t]!);
    for (const [e, engine] of engines.entries()) {
      const spread = `${Math.min(...searchMs[e]!).toPrecision(3)}–${Math.max(...searchMs[e]!).toPrecision(3)} ms`;
      rows.push({
        name: `exact top-10 over ${shape} loaded from ${engine}`,
        unit: 'ms',
        value: median(searchMs[e]!),
        note:
          `median of ${turns} alternating turns of ${perTurn} queries (${spread})` +
          (e > 0 ? `; median of the per-turn ratios ${median(turnRatios).toFixed(3)}×` : ''),
        ...(e > 0 ? { baseline: `exact top-10 over ${shape} loaded from SQLite` } : {}),
      });
    }
    // hostArray maps 2 MiB and more on its own, huge-page-aligned; a smaller matrix sits in the heap.
    const shares = bytes >= 2 ** 21 ? hugePageShares(bytes) : null;
    if (shares?.length) notes.push(`mappings of the matrices' size (${(bytes / 2 ** 20).toFixed(0)} MiB) on 2 MiB pages: ${shares.join(', ')}`);
    matrices.fill(null);
    for (const c of catalogs.splice(0)) await c.close();

    // 3) pgvector HNSW on the same catalog. Its build holds the graph in maintenance_work_mem;
    //    clipkit raises its own session only so far, so a big catalog gets the setting on the
    //    database, as the README tells users to.
    const graphMb = Math.ceil((n * hnswGraphBytesPerRow(dim) * 1.1) / 2 ** 20);
    await sql(adminUrl, `ALTER DATABASE ${pg.escapeIdentifier(new URL(url).pathname.slice(1))} SET maintenance_work_mem = '${Math.max(64, graphMb)}MB'`);
    const hnsw = (await openCatalog(url, { readOnly: true, index: 'hnsw' })) as PgCatalog;
    catalogs.push(hnsw);
    const buildSeconds = await hnsw.ensureHnsw();
    rows.push({
      name: `HNSW index build over ${shape} (pgvector, m 16, ef_construction 64)`,
      unit: 'ms',
      value: buildSeconds * 1e3,
      note: `maintenance_work_mem ${Math.max(64, graphMb)} MB (the graph in memory), server's default parallel workers`,
    });
    // Other queries first, so the timed ones do not find their own paths cached.
    for (let i = 0; i < count; i++) await hnsw.nearest(q(i, 1), 10);
    // The recall / latency trade-off: pgvector's ef_search at clipkit's default for k = 10 (100)
    // and higher (`--ef-search`).
    const recalls: string[] = [];
    for (const ef of [100, 400, 1000]) {
      const times: number[] = [];
      let hits = 0;
      for (let i = 0; i < count; i++) {
        const t = performance.now();
        const top = await hnsw.nearest(q(i), 10, ef);
        times.push(performance.now() - t);
        const truth = new Set(exactTop[i]);
        hits += top.filter((h) => truth.has(h.contentId)).length;
      }
      const recall = hits / (10 * count);
      rows.push({
        name: `HNSW top-10 query over ${shape} (server-side, ef_search ${ef}${ef === 100 ? ', the default' : ''}, p50)`,
        unit: 'ms',
        value: median(times),
        baseline: `exact top-10 over ${shape} loaded from PostgreSQL`,
        note: `recall@10 vs exact ${recall.toFixed(3)}`,
      });
      recalls.push(`${recall.toFixed(3)} at ef_search ${ef}`);
    }
    notes.push(`HNSW recall@10 against clipkit's exact top-10 over ${count} queries drawn from the catalog's clusters: ${recalls.join(', ')}.`);
  } finally {
    for (const c of catalogs) await c.close();
    await dropDatabase(adminUrl, url).catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
  }
  return { rows, notes };
}

/** Both engines must hand the kernel the same matrix, or the comparison says nothing. */
function sameMatrix(a: Matrix, b: Matrix): void {
  const layout = (m: Matrix) => `${m.rows}×${m.dim} ${m.store} ${m.data.constructor.name} at offset ${m.data.byteOffset}`;
  if (layout(a) !== layout(b)) throw new Error(`the two matrices differ in layout: SQLite ${layout(a)}, PostgreSQL ${layout(b)}`);
  if (Buffer.compare(Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength), Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength)) !== 0) {
    throw new Error('the matrices loaded from SQLite and PostgreSQL hold different values');
  }
}

function sameTop(a: addon.TopK, b: addon.TopK, query: number): addon.TopK {
  if (a.indices.join() !== b.indices.join() || a.scores.join() !== b.scores.join()) {
    throw new Error(`query ${query}: exact top-10 differs between the SQLite and the PostgreSQL matrix`);
  }
  return a;
}
