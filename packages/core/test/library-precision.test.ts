// The catalog records which precision encoded each embedding: version-2 migration of an older
// catalog, writes in either precision, per-precision counts, and one embedding matrix (so one
// search) over rows of both.
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { ModelIdentity } from '../src/library/catalog/index.js';
import { SqliteCatalog } from '../src/library/catalog/sqlite/catalog.js';
import { migrations, SCHEMA_VERSION } from '../src/library/catalog/sqlite/schema.js';
import { scratchDir } from './helpers/tmp-dir.js';

const tmp = scratchDir('catalog-precision');
const MODEL: ModelIdentity = { id: 'tiny', projectionDim: 4, configHash: 'a'.repeat(64), dir: '/models/tiny' };
const stat = (p: string) => ({ path: p, size: 10, mtimeMs: 1000.5 });
const f32 = (...v: number[]) => new Uint8Array(Float32Array.from(v).buffer);

function precisionOf(file: string): Array<{ hash: string; precision: string | null }> {
  const raw = new Database(file, { readonly: true });
  try {
    return raw.prepare('SELECT hash, precision FROM contents ORDER BY hash').all() as Array<{ hash: string; precision: string | null }>;
  } finally {
    raw.close();
  }
}

describe('catalog precision column', () => {
  it('migrates a version-1 catalog: its embeddings were fp32, its error rows have none', async () => {
    const file = path.join(tmp(), 'v1.db');
    const raw = new Database(file);
    raw.exec(migrations[0]!);
    raw.pragma('user_version = 1');
    raw.prepare('INSERT INTO model VALUES (1, ?, ?, ?, ?, ?)').run(MODEL.id, MODEL.projectionDim, MODEL.configHash, 'f32', MODEL.dir);
    raw.prepare(`INSERT INTO contents (id, hash, status, embedding) VALUES (1, 'ok1', 'ok', ?)`).run(f32(1, 0, 0, 0));
    raw.prepare(`INSERT INTO contents (id, hash, status, error_code, error) VALUES (2, 'bad', 'error', 'IMAGE_DECODE', 'truncated')`).run();
    raw.prepare(`INSERT INTO files (path, size, mtime_ms, content_id) VALUES ('/l/a.jpg', 1, 1, 1), ('/l/b.jpg', 1, 1, 2)`).run();
    raw.close();

    const c = SqliteCatalog.open(file);
    const check = new Database(file, { readonly: true });
    expect(check.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    check.close();
    expect(precisionOf(file)).toEqual([
      { hash: 'bad', precision: null },
      { hash: 'ok1', precision: 'fp32' },
    ]);
    expect(await c.precisions()).toEqual({ fp32: 1 });
    await c.close();
  });

  it('records each row in the precision that encoded it, counts present files per precision, and serves one matrix over both', async () => {
    const file = path.join(tmp(), 'c.db');
    const c = SqliteCatalog.open(file, { create: true });
    await c.bindModel(MODEL);
    await c.writeBatch([
      { files: [stat('/l/a.jpg'), stat('/l/a-copy.jpg')], content: { hash: 'h1', embedding: f32(1, 0, 0, 0), precision: 'fp32' } },
      { files: [stat('/l/b.jpg')], content: { hash: 'h2', embedding: f32(0, 1, 0, 0) } }, // default: fp32
    ]);
    await c.writeBatch([
      { files: [stat('/l/c.jpg')], content: { hash: 'h3', embedding: f32(0, 0, 1, 0), precision: 'bf16' } },
      { files: [stat('/l/d.jpg')], content: { hash: 'h4', error: { code: 'IMAGE_DECODE', message: 'bad' } } },
    ]);
    expect(precisionOf(file)).toEqual([
      { hash: 'h1', precision: 'fp32' },
      { hash: 'h2', precision: 'fp32' },
      { hash: 'h3', precision: 'bf16' },
      { hash: 'h4', precision: null },
    ]);
    expect(await c.precisions()).toEqual({ fp32: 3, bf16: 1 });

    // Re-encoding a content (its file changed back to known bytes) takes the new precision.
    await c.writeBatch([{ files: [stat('/l/b.jpg')], content: { hash: 'h2', embedding: f32(0, 1, 0, 0), precision: 'bf16' } }]);
    expect(await c.precisions()).toEqual({ fp32: 2, bf16: 2 });

    const m = await c.embeddings();
    expect(m.rows).toBe(3);
    expect(Array.from(m.data as Float32Array)).toEqual([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0]);
    await c.close();
  });

  it('refuses any other precision value at the database level', async () => {
    const file = path.join(tmp(), 'c.db');
    await SqliteCatalog.open(file, { create: true }).close();
    const raw = new Database(file);
    expect(() => raw.prepare(`INSERT INTO contents (hash, status, embedding, precision) VALUES ('x', 'ok', x'00', 'fp16')`).run()).toThrow(/CHECK constraint/);
    raw.close();
  });
});
