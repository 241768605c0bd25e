// The PostgreSQL catalog against a real server (.ci/postgres.sh starts one): the catalog on its
// own with pgvector halfvec and with bytea, then the CLI as users run it — importers sharing the
// work, one killed with SIGKILL, the server stopped mid-import, bad URLs and passwords.
// One file, so the test that stops the server never pulls it from under another suite.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CatalogMismatchError, UsageError } from '../src/errors.js';
import { openCatalog, type Catalog, type ModelIdentity } from '../src/library/catalog/index.js';
import { PgCatalog } from '../src/library/catalog/postgres/catalog.js';
import { freshDatabase, sql } from '../src/testing/postgres.js';
import { writeRandomClipModel } from '../src/testing/random-model.js';
import { makePhotoLibrary, type PhotoLibrary } from './helpers/photo-library.js';
import { adminUrl, plainUrl, skipWithoutPostgres } from './helpers/postgres.js';
import { scratchDir } from './helpers/tmp-dir.js';

const skip = skipWithoutPostgres('library-postgres');
const BIN = path.resolve(import.meta.dirname, '..', 'bin', 'clipkit.js');
const tmp = scratchDir('library-postgres');
const MODEL: ModelIdentity = { id: 'tiny', projectionDim: 4, configHash: 'a'.repeat(64), dir: '/models/tiny' };
const stat = (p: string, size = 10, mtimeMs = 1000.5) => ({ path: p, size, mtimeMs });
/** f16 little-endian bytes: 1.0 is 0x3c00. */
const f16 = (...v: number[]) => new Uint8Array(Uint16Array.from(v.map((x) => (x === 1 ? 0x3c00 : 0))).buffer);

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function clipkit(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<Run>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, done };
}
const run = (args: string[], env?: Record<string, string>) => clipkit(args, env).done;

/** Polls until `ready` holds for the catalog's count of stored (ok) contents. */
async function waitForContents(url: string, ready: (n: number) => boolean, timeoutMs = 90_000): Promise<number> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    try {
      const [row] = await sql<{ n: number }>(url, `SELECT count(*)::int AS n FROM clipkit.contents WHERE status = 'ok'`);
      if (row && ready(row.n)) return row.n;
    } catch {
      // schema not created yet, or the server is restarting
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`catalog ${url} never reached the expected state`);
}

/** The invariants a catalog keeps at every commit, whatever killed an importer. */
async function checkInvariants(url: string, dim: number): Promise<{ okContents: number; files: number }> {
  const q = async (text: string) => ((await sql<{ n: number }>(url, text))[0] as { n: number }).n;
  expect(await q('SELECT count(*)::int AS n FROM clipkit.files')).toBe(await q('SELECT count(DISTINCT path)::int AS n FROM clipkit.files'));
  expect(await q('SELECT count(*)::int AS n FROM clipkit.contents')).toBe(await q('SELECT count(DISTINCT hash)::int AS n FROM clipkit.contents'));
  expect(await q(`SELECT count(*)::int AS n FROM clipkit.contents WHERE status = 'ok' AND vector_dims(embedding) <> ${dim}`)).toBe(0);
  expect(await q('SELECT count(*)::int AS n FROM clipkit.files f WHERE NOT EXISTS (SELECT 1 FROM clipkit.contents c WHERE c.id = f.content_id)')).toBe(0);
  return {
    okContents: await q(`SELECT count(*)::int AS n FROM clipkit.contents WHERE status = 'ok'`),
    files: await q('SELECT count(*)::int AS n FROM clipkit.files'),
  };
}

/** Why network namespaces cannot be made here (not root, no `ip`), or null when they can. */
function namespacesUnavailable(): string | null {
  const probe = `ckprobe${process.pid % 100000}`;
  try {
    execFileSync('ip', ['netns', 'add', probe], { stdio: 'ignore' });
    execFileSync('ip', ['netns', 'del', probe], { stdio: 'ignore' });
    return null;
  } catch (err) {
    return `cannot create a network namespace (needs root and iproute2): ${(err as Error).message.split('\n')[0]}`;
  }
}

describe.skipIf(skip)('PostgreSQL catalog', () => {
  for (const engine of ['halfvec', 'bytea'] as const) {
    it(`stores, links, reconciles and loads embeddings like the SQLite catalog (${engine})`, async () => {
      const url = await freshDatabase(engine === 'halfvec' ? (adminUrl as string) : (plainUrl as string), engine);
      const c = (await openCatalog(url, { create: true })) as PgCatalog;
      try {
        expect(c.storage).toMatchObject({ engine: 'postgres', vectors: engine });
        if (engine === 'bytea') expect(c.storage.detail).toMatch(/permission denied to create extension/);
        expect(await c.model()).toBeNull();
        await expect(c.bindModel(MODEL, 'f32')).rejects.toThrow(UsageError);
        expect(await c.bindModel(MODEL)).toMatchObject({ id: 'tiny', store: 'f16' });
        await expect(c.bindModel({ ...MODEL, configHash: 'b'.repeat(64) })).rejects.toThrow(CatalogMismatchError);

        await c.writeBatch([
          { files: [stat('/l/a.jpg'), stat('/l/copy.jpg')], content: { hash: 'h1', embedding: f16(1, 0, 0, 0) } },
          { files: [stat('/l/x.jpg')], content: { hash: 'hx', error: { code: 'IMAGE_DECODE', message: 'bad' } } },
          { files: [stat('/l/sub/b.jpg')], content: { hash: 'h2', embedding: f16(0, 0, 0, 1) } },
          { files: [stat('/l2/c.jpg')], content: { hash: 'h3', embedding: f16(0, 1, 0, 0), precision: 'bf16' } },
        ]);
        expect(await c.counts()).toEqual({ files: 5, missing: 0, contents: 4, ok: 4, errors: 1 });
        expect((await c.file('/l/copy.jpg'))?.contentId).toBe(await c.contentId('h1'));
        expect(await c.errors()).toEqual([{ path: '/l/x.jpg', code: 'IMAGE_DECODE', message: 'bad' }]);
        // A wrong-sized embedding aborts the whole batch.
        await expect(
          c.writeBatch([
            { files: [stat('/l/d.jpg')], content: { hash: 'h4', embedding: f16(0, 1, 0, 0) } },
            { files: [stat('/l/e.jpg')], content: { hash: 'h5', embedding: f16(0, 1, 0) } },
          ]),
        ).rejects.toThrow(RangeError);
        expect(await c.contentId('h4')).toBeUndefined();

        const m = await c.embeddings();
        expect(m).toMatchObject({ rows: 3, dim: 4, store: 'f16' });
        expect(Array.from(m.contentIds)).toEqual([await c.contentId('h1'), await c.contentId('h2'), await c.contentId('h3')]);
        expect(Array.from(m.data)).toEqual([0x3c00, 0, 0, 0, 0, 0, 0, 0x3c00, 0, 0x3c00, 0, 0]);
        const h1 = (await c.contentId('h1')) as number;
        const refs = (await c.files([h1])).get(h1) ?? [];
        expect(refs.map((f) => f.path)).toEqual(['/l/a.jpg', '/l/copy.jpg']);
        expect(await c.fileById(refs[0]?.id as number)).toMatchObject({ path: '/l/a.jpg', contentId: h1, hash: 'h1', embedded: true });
        expect(await c.fileById(999_999)).toBeUndefined();
        // Rows of both precisions side by side, in one matrix (above) and counted per precision.
        expect(await c.precisions()).toEqual({ fp32: 3, bf16: 1 });
        await c.addRoot('/l');
        await c.addRoot('/l');
        expect(await c.roots()).toEqual(['/l']);

        // Only paths under /l/ are reconciled (/l2 shares the prefix string, not the folder).
        const before = await c.changeToken();
        expect(await c.reconcile('/l', new Set(['/l/a.jpg', '/l/copy.jpg', '/l/x.jpg']), false)).toBe(1);
        expect(await c.changeToken()).not.toBe(before);
        expect((await c.file('/l/sub/b.jpg'))?.missing).toBe(true);
        expect((await c.embeddings()).rows).toBe(2);
        expect(await c.reconcile('/l', new Set(['/l/a.jpg', '/l/copy.jpg', '/l/x.jpg']), true)).toBe(1);
        expect(await c.contentId('h2')).toBeUndefined();
        expect(await c.integrityCheck()).toBe('ok');
      } finally {
        await c.close();
      }
    });
  }

  it('tells a search cache which rows a commit added, and when it must reload instead', async () => {
    const url = await freshDatabase(adminUrl as string, 'incr');
    const c = (await openCatalog(url, { create: true })) as PgCatalog;
    try {
      await c.bindModel(MODEL);
      await c.writeBatch([{ files: [stat('/i/a.jpg')], content: { hash: 'a', embedding: f16(1, 0, 0, 0) } }]);
      const t1 = await c.changeToken();
      await c.writeBatch([
        { files: [stat('/i/b.jpg')], content: { hash: 'b', embedding: f16(0, 1, 0, 0) } },
        { files: [stat('/i/copy.jpg')], contentId: (await c.contentId('a')) as number }, // a link to a present content
      ]);
      const t2 = await c.changeToken();
      expect(t2).not.toBe(t1);
      const added = await c.embeddingsAdded(t1, t2);
      expect(Array.from(added?.contentIds ?? [])).toEqual([await c.contentId('b')]);
      expect(Array.from(added?.data ?? [])).toEqual([0, 0x3c00, 0, 0]);
      // The same batch again (a retry after a lost connection) adds nothing new.
      await c.writeBatch([{ files: [stat('/i/b.jpg')], content: { hash: 'b', embedding: f16(0, 1, 0, 0) } }]);
      expect((await c.embeddingsAdded(t2, await c.changeToken()))?.rows).toBe(0);
      // A file gone is no append: the cache must reload.
      const t3 = await c.changeToken();
      await c.reconcile('/i', new Set(['/i/a.jpg', '/i/copy.jpg']), false);
      expect(await c.embeddingsAdded(t3, await c.changeToken())).toBeNull();
    } finally {
      await c.close();
    }
  });

  it('a work queue refuses a lease outside 1–86400 whole seconds before registering a worker', async () => {
    const url = await freshDatabase(adminUrl as string, 'lease');
    const c = (await openCatalog(url, { create: true })) as PgCatalog;
    try {
      for (const bad of [Number.POSITIVE_INFINITY, 0.001, 0, 86401, Number.NaN]) {
        await expect(c.workQueue.begin('/q', bad)).rejects.toThrow(/leaseSeconds must be an integer from 1 to 86400/);
      }
      expect((await sql<{ n: number }>(url, 'SELECT count(*)::int AS n FROM clipkit.workers'))[0]?.n).toBe(0);
      await c.workQueue.begin('/q', 5);
      await c.workQueue.end();
      expect((await sql<{ n: number }>(url, 'SELECT count(*)::int AS n FROM clipkit.workers WHERE finished'))[0]?.n).toBe(1);
    } finally {
      await c.close();
    }
  });

  it('claims a content for one importer at a time, and finds it once stored, in one round trip', async () => {
    const url = await freshDatabase(adminUrl as string, 'claims');
    const a = (await openCatalog(url, { create: true })) as PgCatalog;
    const b = (await openCatalog(url)) as PgCatalog;
    try {
      await a.bindModel(MODEL);
      await expect(a.workQueue.claimContent('ab'.repeat(32))).rejects.toThrow(/before begin/);
      await a.workQueue.begin('/c', 5);
      await b.workQueue.begin('/c', 5);
      const hash = 'ab'.repeat(32);
      expect(await a.workQueue.claimContent(hash)).toEqual({ existing: undefined, claimed: true });
      expect(await a.workQueue.claimContent(hash)).toEqual({ existing: undefined, claimed: true }); // its own claim again
      expect(await b.workQueue.claimContent(hash)).toEqual({ existing: undefined, claimed: false });
      // A stores it (and so drops the claim): B now finds the content instead of claiming it.
      await a.writeBatch([{ files: [stat('/c/a.jpg')], content: { hash, embedding: f16(1, 0, 0, 0) } }]);
      const id = await a.contentId(hash);
      expect(id).toBeTypeOf('number');
      expect(await b.workQueue.claimContent(hash)).toEqual({ existing: id, claimed: false });
      // Only a sha256 digest reaches the SQL text.
      await expect(b.workQueue.claimContent("x'; DROP TABLE clipkit.contents; --")).rejects.toThrow(RangeError);
      expect(await a.contentId(hash)).toBe(id);
      await a.workQueue.end();
      await b.workQueue.end();
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('finds the nearest contents through a server-side HNSW index', async () => {
    const url = await freshDatabase(adminUrl as string, 'hnsw');
    const c = await openCatalog(url, { create: true, index: 'hnsw' });
    try {
      await c.bindModel(MODEL);
      await c.writeBatch([
        { files: [stat('/h/a.jpg')], content: { hash: 'a', embedding: f16(1, 0, 0, 0) } },
        { files: [stat('/h/b.jpg')], content: { hash: 'b', embedding: f16(0, 1, 0, 0) } },
      ]);
      const top = await (c as Catalog).nearest?.(Float32Array.from([0, 1, 0, 0]), 1);
      expect(top).toEqual([{ contentId: await c.contentId('b'), score: 1 }]);
      // ef_search per query, at both ends of pgvector's range; out of range refused.
      for (const ef of [1, 1000]) expect(await (c as Catalog).nearest?.(Float32Array.from([1, 0, 0, 0]), 1, ef)).toEqual([{ contentId: await c.contentId('a'), score: 1 }]);
      await expect((c as Catalog).nearest?.(Float32Array.from([1, 0, 0, 0]), 1, 1001)).rejects.toThrow(/efSearch/);
    } finally {
      await c.close();
    }
    // A database whose role may not create the extension (bytea vectors) cannot serve --index hnsw.
    const plain = await freshDatabase(plainUrl as string, 'hnswplain');
    await expect(openCatalog(plain, { create: true, index: 'hnsw' })).rejects.toThrow(/needs pgvector/);
  });
});

describe.skipIf(skip)('clipkit import / search with --db postgres://', () => {
  let work: string;
  let modelDir: string;
  let lib: PhotoLibrary;
  const DIM = 32;

  beforeAll(async () => {
    work = tmp();
    modelDir = writeRandomClipModel(path.join(work, 'model'), { seed: 3, initStd: 0.1 }).dir;
    lib = await makePhotoLibrary(path.join(work, 'photos'), { photos: 90, seed: 2 });
  });

  /** Path → score of a search over every file, as the CLI prints it with --json. */
  async function scores(db: string, query: string[]): Promise<Map<string, number>> {
    const r = await run(['search', ...query, '--db', db, '--k', '1000', '--json']);
    expect(r.code, r.stderr).toBe(0);
    return new Map((JSON.parse(r.stdout) as Array<{ path: string; score: number }>).map((h) => [h.path, h.score]));
  }

  it('two importers started together store every file once, encode each content once, and search like SQLite', async () => {
    const url = await freshDatabase(adminUrl as string, 'two');
    const args = ['import', lib.root, '--db', url, '--model', modelDir, '--batch-size', '8', '--json'];
    const slow = { CLIPKIT_TEST_SLOW_BATCH_MS: '300' };
    const [a, b] = await Promise.all([run(args, slow), run(args, slow)]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    const sa = JSON.parse(a.stdout) as { encoded: number };
    const sb = JSON.parse(b.stdout) as { encoded: number };
    expect(sa.encoded + sb.encoded).toBe(lib.uniqueImages);
    expect(sa.encoded).toBeGreaterThan(0);
    expect(sb.encoded).toBeGreaterThan(0);
    expect(await checkInvariants(url, DIM)).toEqual({ okContents: lib.uniqueImages, files: lib.images.length + lib.broken.length });
    expect(await sql(url, 'SELECT * FROM clipkit.queue')).toEqual([]);

    const sqlite = path.join(work, 'same.db');
    expect((await run(['import', lib.root, '--db', sqlite, '--model', modelDir, '--json'])).code).toBe(0);
    for (const query of [['--image', lib.images[4] as string], ['"beach" + "sunset" - "people"']]) {
      const pgScores = await scores(url, query);
      const liteScores = await scores(sqlite, query);
      expect([...pgScores.keys()].sort()).toEqual([...liteScores.keys()].sort());
      for (const [p, s] of pgScores) expect(Math.abs(s - (liteScores.get(p) as number))).toBeLessThan(1e-3);
      const best = (m: Map<string, number>) => [...m].sort((x, y) => y[1] - x[1])[0]?.[1] as number;
      expect(Math.abs(best(pgScores) - best(liteScores))).toBeLessThan(1e-3);
    }
    const hnsw = await run(['search', '--image', lib.images[4] as string, '--db', url, '--index', 'hnsw', '--k', '1', '--json']);
    expect(hnsw.code, hnsw.stderr).toBe(0);
    expect((JSON.parse(hnsw.stdout) as Array<{ score: number }>)[0]?.score).toBeCloseTo(1, 2);

    const status = await run(['status', '--json'], { CLIPKIT_DB: url }); // the catalog from the environment
    expect(status.code, status.stderr).toBe(0);
    const report = JSON.parse(status.stdout) as { queue: { pending: number; claimed: number; workers: Array<{ done: number; state: string }> } };
    expect(report.queue).toMatchObject({ pending: 0, claimed: 0 });
    expect(report.queue.workers.map((w) => w.state)).toEqual(['finished', 'finished']);
    // Non-images count as done too; a file both importers queued before either stored it is done twice.
    expect(report.queue.workers.reduce((n, w) => n + w.done, 0)).toBeGreaterThanOrEqual(lib.images.length + lib.broken.length);
    const info = await run(['info', '--db', url]);
    expect(info.stdout).toMatch(/vectors as halfvec \(pgvector 0\.\d+/);
  });

  it('a SIGKILLed importer\'s claimed batch goes to the other once its lease expires', async () => {
    const url = await freshDatabase(adminUrl as string, 'kill');
    const args = ['import', lib.root, '--db', url, '--model', modelDir, '--batch-size', '8', '--lease-seconds', '3', '--json'];
    const slow = { CLIPKIT_TEST_SLOW_BATCH_MS: '300' };
    const victim = clipkit(args, slow);
    await waitForContents(url, (n) => n >= 8);
    const survivor = clipkit(args, slow);
    await new Promise((r) => setTimeout(r, 150));
    victim.child.kill('SIGKILL');
    expect((await victim.done).signal).toBe('SIGKILL');
    const held = await sql<{ path: string }>(url, `SELECT path FROM clipkit.queue WHERE worker LIKE $1 AND state = 'claimed'`, [
      `%:${victim.child.pid}:%`,
    ]);
    expect(held.length).toBeGreaterThan(0); // killed mid-batch: it held work nobody else may take yet
    await checkInvariants(url, DIM);

    const done = await survivor.done;
    expect(done.code, done.stderr).toBe(0);
    expect(await checkInvariants(url, DIM)).toEqual({ okContents: lib.uniqueImages, files: lib.images.length + lib.broken.length });
    const stored = new Set((await sql<{ path: string }>(url, 'SELECT path FROM clipkit.files')).map((r) => r.path));
    // Every photo the victim held is stored now (a non-photo it held, notes.txt, is only dequeued).
    const photos = new Set([...lib.images, ...lib.broken]);
    for (const { path: p } of held) if (photos.has(p)) expect(stored.has(p), p).toBe(true);
    expect(await sql(url, 'SELECT * FROM clipkit.queue')).toEqual([]);
    const status = await run(['status', '--db', url]);
    expect(status.stdout).toMatch(/queue: 0 pending, 0 claimed/);
  });

  const pgDir = process.env.CLIPKIT_TEST_PG_DIR;
  const pgBin = process.env.CLIPKIT_TEST_PG_BIN;
  if (!skip && !(pgDir && pgBin)) console.warn('[library-postgres] server-restart test skipped: CLIPKIT_TEST_PG_DIR / CLIPKIT_TEST_PG_BIN not set');
  it.skipIf(!(pgDir && pgBin))('the server stopped with -m immediate mid-import: importers retry, or fail in one line and a rerun finishes', async () => {
    const url = await freshDatabase(adminUrl as string, 'stop');
    const args = ['import', lib.root, '--db', url, '--model', modelDir, '--batch-size', '8', '--json'];
    const pgCtl = (...a: string[]) =>
      execFileSync('runuser', ['-u', 'postgres', '--', path.join(pgBin as string, 'pg_ctl'), '-D', path.join(pgDir as string, 'data'), ...a], {
        stdio: 'ignore',
      });
    const importer = clipkit(args, { CLIPKIT_TEST_SLOW_BATCH_MS: '200' });
    await waitForContents(url, (n) => n >= 16);
    pgCtl('-m', 'immediate', 'stop');
    await new Promise((r) => setTimeout(r, 1500));
    pgCtl('-l', path.join(pgDir as string, 'log'), '-w', 'start');
    const first = await importer.done;
    if (first.code !== 0) {
      expect(first.stderr.trim().split('\n').filter((l) => l.startsWith('clipkit:'))).toHaveLength(1);
      expect(first.stderr).toMatch(/PostgreSQL server postgres:\/\/postgres@127\.0\.0\.1/);
      expect((await run(args)).code).toBe(0);
    }
    expect(await checkInvariants(url, DIM)).toEqual({ okContents: lib.uniqueImages, files: lib.images.length + lib.broken.length });
  });

  const netnsWhy = skip ? null : namespacesUnavailable();
  if (netnsWhy) console.warn(`[library-postgres] network-namespace test skipped: ${netnsWhy}`);
  it.skipIf(skip || netnsWhy !== null)('workers in their own network namespaces: cutting one link moves its leased work to the other', async () => {
    const url = await freshDatabase(adminUrl as string, 'netns');
    const port = new URL(url).port;
    const tag = `ck${process.pid % 10000}`;
    const nets = [
      { ns: `${tag}a`, host: `${tag}ah`, peer: `${tag}an`, hostIp: '10.231.1.1', nsIp: '10.231.1.2' },
      { ns: `${tag}b`, host: `${tag}bh`, peer: `${tag}bn`, hostIp: '10.231.2.1', nsIp: '10.231.2.2' },
    ];
    const ip = (...a: string[]) => execFileSync('ip', a, { stdio: 'ignore' });
    const workers: Array<ReturnType<typeof clipkit>> = [];
    try {
      for (const n of nets) {
        ip('netns', 'add', n.ns);
        ip('link', 'add', n.host, 'type', 'veth', 'peer', 'name', n.peer);
        ip('link', 'set', n.peer, 'netns', n.ns);
        ip('addr', 'add', `${n.hostIp}/30`, 'dev', n.host);
        ip('link', 'set', n.host, 'up');
        ip('netns', 'exec', n.ns, 'ip', 'addr', 'add', `${n.nsIp}/30`, 'dev', n.peer);
        ip('netns', 'exec', n.ns, 'ip', 'link', 'set', n.peer, 'up');
      }
      // Each worker reaches the server over its own link, at the host's address on that link.
      const start = (n: (typeof nets)[number]) => {
        const db = url.replace(/@[^/]+\//, `@${n.hostIp}:${port}/`);
        const child = spawn('ip', ['netns', 'exec', n.ns, process.execPath, BIN, 'import', lib.root, '--db', db, '--model', modelDir,
          '--batch-size', '8', '--lease-seconds', '3', '--json'], {
          env: { ...process.env, CLIPKIT_TEST_SLOW_BATCH_MS: '300' }, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        const done = new Promise<Run>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
        const w = { child, done };
        workers.push(w);
        return w;
      };
      const [a, b] = [start(nets[0] as (typeof nets)[number]), start(nets[1] as (typeof nets)[number])];
      // Wait until the first worker holds a claimed batch, seen from the server, then cut its link.
      const workerOf = (w: typeof a) => `%:${w.child.pid}:%`;
      const until = Date.now() + 90_000;
      let held: Array<{ path: string }> = [];
      while (Date.now() < until && held.length === 0) {
        held = await sql<{ path: string }>(url, `SELECT path FROM clipkit.queue WHERE worker LIKE $1 AND state = 'claimed'`, [workerOf(a)]).catch(() => []);
        if (held.length === 0) await new Promise((r) => setTimeout(r, 50));
      }
      expect(held.length, 'worker a never claimed a batch').toBeGreaterThan(0);
      ip('link', 'set', (nets[0] as (typeof nets)[number]).host, 'down');

      const finished = await b.done;
      expect(finished.code, finished.stderr).toBe(0);
      expect(await checkInvariants(url, DIM)).toEqual({ okContents: lib.uniqueImages, files: lib.images.length + lib.broken.length });
      const stored = new Set((await sql<{ path: string }>(url, 'SELECT path FROM clipkit.files')).map((r) => r.path));
      // Every photo the victim held is stored now (a non-photo it held, notes.txt, is only dequeued).
    const photos = new Set([...lib.images, ...lib.broken]);
    for (const { path: p } of held) if (photos.has(p)) expect(stored.has(p), p).toBe(true);
      expect(await sql(url, 'SELECT * FROM clipkit.queue')).toEqual([]);
    } finally {
      for (const w of workers) w.child.kill('SIGKILL');
      await Promise.all(workers.map((w) => w.done));
      for (const n of nets) {
        try {
          ip('link', 'del', n.host);
        } catch {
          // never created
        }
        try {
          ip('netns', 'del', n.ns);
        } catch {
          // never created
        }
      }
    }
  });

  it('catalog copy moves a catalog SQLite → PostgreSQL → SQLite without the model, searching alike', async () => {
    const sqlite = path.join(work, 'copy-src.db');
    expect((await run(['import', lib.root, '--db', sqlite, '--model', modelDir, '--json'])).code).toBe(0);
    const url = await freshDatabase(adminUrl as string, 'copy');
    const back = path.join(work, 'copy-back.db');
    // Copies never load a model: hide it, and any attempt to encode would fail.
    const hidden = { CLIPKIT_CACHE: path.join(work, 'no-cache'), CLIPKIT_OFFLINE: '1' };
    const there = await run(['catalog', 'copy', '--from', sqlite, '--to', url, '--json'], hidden);
    expect(there.code, there.stderr).toBe(0);
    const counts = async (db: string) => JSON.parse((await run(['status', '--db', db, '--json'])).stdout).counts as Record<string, number>;
    expect(JSON.parse(there.stdout)).toMatchObject({ contents: (await counts(sqlite)).contents, store: 'f16' });
    const again = await run(['catalog', 'copy', '--from', url, '--to', back, '--json'], hidden);
    expect(again.code, again.stderr).toBe(0);
    expect(await counts(url)).toEqual(await counts(sqlite));
    expect(await counts(back)).toEqual(await counts(sqlite));
    const query = ['--image', lib.images[7] as string];
    const a = await scores(sqlite, query);
    for (const db of [url, back]) {
      const b = await scores(db, query);
      expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
      for (const [p, v] of b) expect(Math.abs(v - (a.get(p) as number))).toBeLessThan(1e-3);
    }
    // Into a catalog of another model: refused in one line.
    const otherModel = writeRandomClipModel(path.join(work, 'other-copy'), { seed: 5, initStd: 0.1, projectionDim: 16 }).dir;
    const otherDb = path.join(work, 'other-model.db');
    expect((await run(['import', path.join(lib.root, 'edits'), '--db', otherDb, '--model', otherModel])).code).toBe(0);
    const other = await run(['catalog', 'copy', '--from', otherDb, '--to', url]);
    expect(other.code).toBe(1);
    expect(other.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^clipkit: .*refusing to mix/)]);
  });

  it('bad URLs, passwords, a database without pgvector rights and another model: one-line errors', async () => {
    const port = new URL(adminUrl as string).port;
    const oneLine = (r: Run) => {
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(r.stderr).not.toMatch(/secret|wrong/); // a password never reaches the message
    };
    const refused = await run(['search', 'x', '--db', 'postgres://u:secret@127.0.0.1:1/none']);
    oneLine(refused);
    expect(refused.stderr).toMatch(/cannot reach PostgreSQL server postgres:\/\/u@127\.0\.0\.1:1\/none: ECONNREFUSED/);
    const badPassword = await run(['search', 'x', '--db', `postgres://plain:wrong@127.0.0.1:${port}/plain`]);
    oneLine(badPassword);
    expect(badPassword.stderr).toMatch(/refused the login: password authentication failed/);

    const plain = await freshDatabase(plainUrl as string, 'noext');
    const imported = await run(['import', path.join(lib.root, 'edits'), '--db', plain, '--model', modelDir]);
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stderr).toMatch(/stores vectors as bytea.*permission denied to create extension "vector"/);
    expect((await run(['info', '--db', plain])).stdout).toMatch(/vectors as bytea \(cannot create extension vector/);
    const hits = await scores(plain, ['--image', fs.readdirSync(path.join(lib.root, 'edits')).map((f) => path.join(lib.root, 'edits', f))[0] as string]);
    expect(Math.max(...hits.values())).toBeCloseTo(1, 2);

    // Another projection size: the identity compares config and dimension.
    const other = writeRandomClipModel(path.join(work, 'other'), { seed: 9, initStd: 0.1, projectionDim: 16 }).dir;
    const mixed = await run(['import', lib.root, '--db', plain, '--model', other]);
    expect(mixed.code).toBe(1);
    expect(mixed.stderr.trim().split('\n').filter((l) => l.startsWith('clipkit:'))).toEqual([expect.stringMatching(/refusing to mix/)]);
  });
});
