// The catalog on its own: model identity, batch writes, content sharing, missing/prune,
// the embedding matrix, schema versions and the writer lock.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { CatalogBusyError, CatalogError, CatalogMismatchError, UsageError } from '../src/errors.js';
import { openCatalog, type ModelIdentity } from '../src/library/catalog/index.js';
import { APPLICATION_ID, SqliteCatalog } from '../src/library/catalog/sqlite/catalog.js';
import { migrations } from '../src/library/catalog/sqlite/schema.js';
import { SCHEMA_VERSION } from '../src/library/catalog/sqlite/schema.js';
import { WriterLock } from '../src/library/catalog/sqlite/writer-lock.js';
import { scratchDir } from './helpers/tmp-dir.js';

const tmp = scratchDir('catalog');
const MODEL: ModelIdentity = { id: 'tiny', projectionDim: 4, configHash: 'a'.repeat(64), dir: '/models/tiny' };
const stat = (p: string, size = 10, mtimeMs = 1000.5) => ({ path: p, size, mtimeMs });
const f32 = (...v: number[]) => new Uint8Array(Float32Array.from(v).buffer);

function fresh(): SqliteCatalog {
  return SqliteCatalog.open(path.join(tmp(), 'c.db'), { create: true });
}

describe('Catalog', () => {
  it('checks efSearch before opening anything: 1–1000, and only with index hnsw', async () => {
    const dir = tmp();
    await expect(openCatalog(path.join(dir, 'a.db'), { create: true, efSearch: 200 })).rejects.toThrow(/--ef-search applies to --index hnsw only/);
    // Refused before any connection is tried: nothing listens on port 1.
    for (const efSearch of [0, 1001, 2.5]) {
      await expect(openCatalog('postgres://127.0.0.1:1/none', { index: 'hnsw', efSearch })).rejects.toThrow(UsageError);
      await expect(openCatalog('postgres://127.0.0.1:1/none', { index: 'hnsw', efSearch })).rejects.toThrow(/efSearch/);
    }
    expect(fs.existsSync(path.join(dir, 'a.db'))).toBe(false);
  });

  it('records the model once and refuses another model or storage format', async () => {
    const c = fresh();
    expect(await c.model()).toBeNull();
    expect(await c.bindModel(MODEL, 'f16')).toMatchObject({ id: 'tiny', store: 'f16' });
    expect((await c.bindModel({ ...MODEL, dir: '/elsewhere' })).dir).toBe('/elsewhere');
    expect((await c.model())?.dir).toBe('/elsewhere');
    await expect(c.bindModel({ ...MODEL, configHash: 'b'.repeat(64) })).rejects.toThrow(CatalogMismatchError);
    await expect(c.checkModel({ ...MODEL, projectionDim: 8 })).rejects.toThrow(/refusing to mix/);
    await expect(c.bindModel(MODEL, 'f32')).rejects.toThrow(/stores f16 embeddings/);
    await c.close();
  });

  it('stores shared content once, validates embedding size, and writes a batch atomically', async () => {
    const c = fresh();
    await c.bindModel(MODEL);
    await c.writeBatch([
      { files: [stat('/lib/a.jpg'), stat('/lib/copy.jpg')], content: { hash: 'h1', embedding: f32(1, 0, 0, 0) } },
      { files: [stat('/lib/bad.jpg')], content: { hash: 'h2', error: { code: 'IMAGE_DECODE', message: 'truncated' } } },
    ]);
    expect(await c.counts()).toEqual({ files: 3, missing: 0, contents: 2, ok: 2, errors: 1 });
    expect((await c.file('/lib/copy.jpg'))?.contentId).toBe(await c.contentId('h1'));
    expect(await c.errors()).toEqual([{ path: '/lib/bad.jpg', code: 'IMAGE_DECODE', message: 'truncated' }]);

    // A wrong-sized embedding aborts the whole batch: the first entry must not land either.
    await expect(
      c.writeBatch([
        { files: [stat('/lib/b.jpg')], content: { hash: 'h3', embedding: f32(0, 1, 0, 0) } },
        { files: [stat('/lib/c.jpg')], content: { hash: 'h4', embedding: f32(0, 1, 0) } },
      ]),
    ).rejects.toThrow(RangeError);
    expect(await c.file('/lib/b.jpg')).toBeUndefined();
    expect(await c.contentId('h3')).toBeUndefined();
    expect(await c.integrityCheck()).toBe('ok');
    await c.close();
  });

  it('marks vanished files missing, or prunes them with orphaned contents', async () => {
    const c = fresh();
    await c.bindModel(MODEL);
    await c.writeBatch([
      { files: [stat('/lib/a.jpg')], content: { hash: 'h1', embedding: f32(1, 0, 0, 0) } },
      { files: [stat('/lib/sub/b.jpg')], content: { hash: 'h2', embedding: f32(0, 1, 0, 0) } },
      { files: [stat('/library2/c.jpg')], content: { hash: 'h3', embedding: f32(0, 0, 1, 0) } },
    ]);
    // Only paths under /lib/ are reconciled; /library2 shares the prefix string but is not under it.
    expect(await c.reconcile('/lib', new Set(['/lib/a.jpg']), false)).toBe(1);
    expect((await c.file('/lib/sub/b.jpg'))?.missing).toBe(true);
    expect((await c.file('/library2/c.jpg'))?.missing).toBe(false);
    expect((await c.embeddings()).rows).toBe(2); // missing files leave the search matrix
    expect(await c.reconcile('/lib', new Set(['/lib/a.jpg']), true)).toBe(1);
    expect(await c.file('/lib/sub/b.jpg')).toBeUndefined();
    expect(await c.contentId('h2')).toBeUndefined();
    expect(await c.counts()).toEqual({ files: 2, missing: 0, contents: 2, ok: 2, errors: 0 });
    await c.close();
  });

  it('loads embeddings into one matrix aligned with content ids (f32 and f16)', async () => {
    for (const store of ['f32', 'f16'] as const) {
      const c = fresh();
      await c.bindModel(MODEL, store);
      const blob = (v: number[]) =>
        store === 'f32' ? f32(...v) : new Uint8Array(Uint16Array.from(v.map((x) => (x === 1 ? 0x3c00 : 0))).buffer);
      await c.writeBatch([
        { files: [stat('/l/a.jpg')], content: { hash: 'h1', embedding: blob([1, 0, 0, 0]) } },
        { files: [stat('/l/x.jpg')], content: { hash: 'hx', error: { code: 'IMAGE_DECODE', message: 'bad' } } },
        { files: [stat('/l/b.jpg')], content: { hash: 'h2', embedding: blob([0, 0, 0, 1]) } },
      ]);
      const m = await c.embeddings();
      expect(m.rows).toBe(2);
      expect(m.store).toBe(store);
      // The search cache passes the addon's hostArray; a view that does not start its buffer
      // must be filled in place too.
      const asked: Array<[number, string]> = [];
      const viaAlloc = await c.embeddings((length, s) => {
        asked.push([length, s]);
        const buffer = new ArrayBuffer(8 + length * (s === 'f16' ? 2 : 4));
        return s === 'f16' ? new Uint16Array(buffer, 8, length) : new Float32Array(buffer, 8, length);
      });
      expect(asked).toEqual([[8, store]]);
      expect(Array.from(viaAlloc.data)).toEqual(Array.from(m.data));
      expect(m.data).toBeInstanceOf(store === 'f32' ? Float32Array : Uint16Array);
      expect(Array.from(m.contentIds)).toEqual([await c.contentId('h1'), await c.contentId('h2')]);
      const one = store === 'f32' ? 1 : 0x3c00;
      expect(Array.from(m.data)).toEqual([one, 0, 0, 0, 0, 0, 0, one]);
      const files = await c.files(m.contentIds);
      expect(new Map([...files].map(([content, refs]) => [content, refs.map((f) => f.path)]))).toEqual(
        new Map([
          [await c.contentId('h1'), ['/l/a.jpg']],
          [await c.contentId('h2'), ['/l/b.jpg']],
        ]),
      );
      const a = files.get((await c.contentId('h1')) as number)?.[0];
      expect(await c.fileById(a?.id as number)).toMatchObject({ path: '/l/a.jpg', hash: 'h1', embedded: true, contentId: await c.contentId('h1') });
      expect(await c.fileById(-1)).toBeUndefined();
      expect(await c.roots()).toEqual([]);
      await c.addRoot('/l');
      await c.addRoot('/l');
      expect(await c.roots()).toEqual(['/l']);
      await c.close();
    }
  });

  it('refuses a newer schema and a file that is not a database; requires an existing file unless creating', async () => {
    const dir = tmp();
    const newer = path.join(dir, 'newer.db');
    const raw = new Database(newer);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.pragma(`application_id = ${APPLICATION_ID}`);
    raw.close();
    expect(() => SqliteCatalog.open(newer)).toThrow(/newer than this clipkit supports/);
    const junk = path.join(dir, 'junk.db');
    fs.writeFileSync(junk, 'this is not sqlite, just text long enough to be read as a header......');
    await expect(openCatalog(junk)).rejects.toThrow(CatalogMismatchError);
    await expect(openCatalog(path.join(dir, 'absent.db'))).rejects.toThrow(UsageError);
    expect(fs.existsSync(path.join(dir, 'absent.db'))).toBe(false);
  });

  it('refuses a model of the same architecture with other weights, naming both; an unfingerprinted catalog records the first', async () => {
    const c = fresh();
    await c.bindModel({ ...MODEL, weightsHash: '1'.repeat(64) });
    await expect(c.checkModel({ ...MODEL, weightsHash: '2'.repeat(64), id: 'copy', dir: '/models/copy' })).rejects.toThrow(
      /built with model tiny \(weights sha256 111111111111, \/models\/tiny\); refusing copy \(weights sha256 222222222222, \/models\/copy\)/,
    );
    await expect(c.bindModel({ ...MODEL, weightsHash: '2'.repeat(64) })).rejects.toThrow(CatalogMismatchError);
    await c.checkModel({ ...MODEL, weightsHash: '1'.repeat(64) });
    await c.close();

    const legacy = fresh();
    await legacy.bindModel(MODEL); // no fingerprint, as before schema 2
    expect((await legacy.model())?.weightsHash).toBeNull();
    expect((await legacy.bindModel({ ...MODEL, weightsHash: '3'.repeat(64) })).weightsHash).toBe('3'.repeat(64));
    await expect(legacy.checkModel({ ...MODEL, weightsHash: '4'.repeat(64) })).rejects.toThrow(/other weights/);
    await legacy.close();
  });

  it("refuses another program's SQLite file before writing a byte of it", async () => {
    const dir = tmp();
    for (const sql of ['CREATE TABLE foo (x)', 'CREATE TABLE files (x); CREATE TABLE model (y); PRAGMA user_version = 7', 'PRAGMA application_id = 42']) {
      const file = path.join(dir, 'foreign.db');
      fs.rmSync(file, { force: true });
      const raw = new Database(file);
      raw.exec(sql);
      raw.close();
      const before = fs.readFileSync(file);
      for (const opts of [{ create: true }, { readOnly: true }, {}]) {
        await expect(openCatalog(file, opts)).rejects.toThrow(/not a clipkit catalog.*left untouched/);
      }
      expect(fs.readFileSync(file).equals(before)).toBe(true);
      expect(fs.existsSync(`${file}-wal`)).toBe(false);
    }
  });

  it('opens read-only without creating or writing; maps SQLite failures to typed errors naming the file', async () => {
    const dir = tmp();
    await expect(openCatalog(path.join(dir, 'absent.db'), { readOnly: true })).rejects.toThrow(/no catalog at/);
    expect(fs.existsSync(path.join(dir, 'absent.db'))).toBe(false);
    await expect(openCatalog(dir, { readOnly: true })).rejects.toThrow(/is a directory, not a catalog file/);

    const file = path.join(dir, 'c.db');
    const w = SqliteCatalog.open(file, { create: true });
    await w.bindModel(MODEL);
    await w.writeBatch([{ files: [stat('/l/a.jpg')], content: { hash: 'h1', embedding: f32(1, 0, 0, 0) } }]);
    await w.close();
    const before = fs.readFileSync(file);
    const r = SqliteCatalog.open(file, { readOnly: true });
    expect((await r.counts()).ok).toBe(1);
    await expect(r.bindModel({ ...MODEL, dir: '/moved' })).rejects.toThrow(CatalogError);
    await expect(r.bindModel({ ...MODEL, dir: '/moved' })).rejects.toThrow(/read-only.*SQLITE_READONLY/);
    await r.close();
    expect(fs.readFileSync(file).equals(before)).toBe(true);

    // A catalog cut short: SQLITE_CORRUPT as a CatalogError naming the file, not a SqliteError.
    const big = SqliteCatalog.open(path.join(dir, 'big.db'), { create: true });
    await big.bindModel(MODEL);
    await big.writeBatch(Array.from({ length: 400 }, (_, i) => ({ files: [stat(`/l/${i}.jpg`)], content: { hash: `h${i}`, embedding: f32(i, 1, 2, 3) } })));
    await big.close();
    fs.truncateSync(path.join(dir, 'big.db'), 3 * 4096);
    const cut = async () => {
      const c = SqliteCatalog.open(path.join(dir, 'big.db'), { readOnly: true });
      try {
        await c.embeddings();
      } finally {
        await c.close();
      }
    };
    await expect(cut()).rejects.toThrow(CatalogError);
    await expect(cut()).rejects.toThrow(/big\.db: the catalog file is damaged/);
  });

  it('recognises a catalog made before the application_id stamp, and stamps it when writing', async () => {
    const file = path.join(tmp(), 'old.db');
    const raw = new Database(file);
    raw.exec(migrations[0] as string);
    raw.pragma('user_version = 1');
    raw.close();
    const c = SqliteCatalog.open(file, { readOnly: true }); // migrated through a connection of its own
    expect(await c.model()).toBeNull();
    await c.close();
    const check = new Database(file, { readonly: true });
    expect(check.pragma('application_id', { simple: true })).toBe(APPLICATION_ID);
    expect(check.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    check.close();
  });

  it('migrates a fresh file to the current schema version', async () => {
    const c = fresh();
    const raw = new Database(c.path, { readonly: true });
    expect(raw.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    raw.close();
    await c.close();
  });
});

describe('WriterLock', () => {
  it('lets one writer in, reports busy to the next, and frees on release', async () => {
    const db = path.join(tmp(), 'c.db');
    const first = WriterLock.acquire(db);
    expect(() => WriterLock.acquire(db)).toThrow(CatalogBusyError);
    expect(() => WriterLock.acquire(db)).toThrow(/database is busy/);
    first.release();
    WriterLock.acquire(db).release();
  });

  it('is freed by the kernel when its holder is killed with SIGKILL', async () => {
    const db = path.join(tmp(), 'c.db');
    const holder = spawn(
      process.execPath,
      [
        '-e',
        `const D = require('better-sqlite3');` +
          `const d = new D(${JSON.stringify(`${db}.lock`)}, { timeout: 0 }); d.exec('BEGIN EXCLUSIVE');` +
          `process.stdout.write('held\\n'); setInterval(() => {}, 1000);`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve) => holder.stdout.once('data', () => resolve()));
    expect(() => WriterLock.acquire(db)).toThrow(CatalogBusyError);
    holder.kill('SIGKILL');
    await new Promise((resolve) => holder.once('exit', resolve));
    WriterLock.acquire(db).release();
  });
});
