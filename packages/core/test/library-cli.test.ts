// The import / search / duplicates commands as a user runs them, including the hard cases:
// SIGKILL at several points followed by a rerun, a second importer on the same database, and a
// search while an import is writing.
import { spawn } from 'node:child_process';
import path from 'node:path';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeRandomClipModel } from '../src/testing/random-model.js';
import { makePhotoLibrary, type PhotoLibrary } from './helpers/photo-library.js';
import { scratchDir } from './helpers/tmp-dir.js';

const BIN = path.resolve(import.meta.dirname, '..', 'bin', 'clipkit.js');
const tmp = scratchDir('library-cli');
let work: string;
let modelDir: string;
let lib: PhotoLibrary;

beforeAll(async () => {
  work = tmp();
  modelDir = writeRandomClipModel(path.join(work, 'model'), { seed: 3, initStd: 0.1 }).dir;
  lib = await makePhotoLibrary(path.join(work, 'photos'), { photos: 90, seed: 2 });
});

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

/** Polls the catalog (read-only, as a WAL reader) until `ready` holds for its ok-content count. */
async function waitForContents(db: string, ready: (n: number) => boolean, timeoutMs = 60_000): Promise<number> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    try {
      const raw = new Database(db, { readonly: true, fileMustExist: true });
      try {
        const n = raw.prepare(`SELECT count(*) FROM contents WHERE status = 'ok'`).pluck().get() as number;
        if (ready(n)) return n;
      } finally {
        raw.close();
      }
    } catch {
      // not created or not migrated yet
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`catalog ${db} never reached the expected state`);
}

/** The invariants a catalog keeps at every commit, whatever killed the writer. */
function checkInvariants(db: string, dim: number): { okContents: number; files: number } {
  const raw = new Database(db, { readonly: true });
  try {
    expect(raw.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(raw.pragma('foreign_key_check')).toEqual([]);
    const q = (sql: string) => raw.prepare(sql).pluck().get() as number;
    expect(q('SELECT count(*) FROM files')).toBe(q('SELECT count(DISTINCT path) FROM files'));
    expect(q('SELECT count(*) FROM contents')).toBe(q('SELECT count(DISTINCT hash) FROM contents'));
    expect(q(`SELECT count(*) FROM contents WHERE status = 'ok' AND length(embedding) != ${dim * 4}`)).toBe(0);
    expect(q('SELECT count(*) FROM contents WHERE id NOT IN (SELECT content_id FROM files)')).toBe(0);
    return { okContents: q(`SELECT count(*) FROM contents WHERE status = 'ok'`), files: q('SELECT count(*) FROM files') };
  } finally {
    raw.close();
  }
}

const DIM = 32; // writeRandomClipModel's default projection

describe('clipkit import / search / duplicates', () => {
  it('imports with a --json summary, searches and lists duplicates', async () => {
    const db = path.join(work, 'cli.db');
    const imported = await run(['import', lib.root, '--db', db, '--model', modelDir, '--json', '--batch-size', '16']);
    expect(imported.code).toBe(0);
    const summary = JSON.parse(imported.stdout) as Record<string, unknown>;
    expect(summary).toMatchObject({
      encoded: lib.uniqueImages,
      linked: lib.copies.length,
      errorCount: lib.broken.length,
      files: lib.images.length + lib.broken.length,
    });
    expect(typeof summary.seconds).toBe('number');
    const stages = summary.stages as Record<string, { seconds: number; items: number; itemsPerSecond: number }>;
    expect(Object.keys(stages)).toEqual(['read', 'decode', 'preprocess', 'encode', 'write']);
    expect(stages.encode?.items).toBe(lib.uniqueImages);
    expect(stages.decode?.seconds).toBeGreaterThan(0);

    const again = await run(['import', lib.root, '--db', db]); // model recorded in the catalog
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/0 encoded, 0 linked, \d+ unchanged/);
    expect(again.stderr).toMatch(/import: /); // plain progress lines when stderr is no TTY

    const query = lib.images[4] as string;
    const found = await run(['search', '--image', query, '--k', '3', '--db', db, '--json']);
    expect(found.code).toBe(0);
    const hits = JSON.parse(found.stdout) as Array<{ path: string; score: number }>;
    expect(hits).toHaveLength(3);
    expect(Math.abs((hits[0]?.score as number) - 1)).toBeLessThan(1e-4);

    const text = await run(['search', '"beach" + "sunset" - "people"', '--db', db, '--k', '4']);
    expect(text.code).toBe(0);
    expect(text.stdout.trim().split('\n')).toHaveLength(4);

    const dups = await run(['duplicates', '--db', db, '--threshold', '0.9999', '--json']);
    expect(dups.code).toBe(0);
    const groups = JSON.parse(dups.stdout) as Array<{ paths: string[] }>;
    for (const copy of lib.copies) expect(groups.some((g) => g.paths.includes(copy))).toBe(true);
  });

  it('gives clear errors for bad arguments and a missing catalog', async () => {
    const missing = await run(['search', 'beach', '--db', path.join(work, 'absent.db')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/no catalog at .*absent\.db/);
    const badK = await run(['search', 'beach', '--k', '0', '--db', path.join(work, 'cli.db')]);
    expect(badK.code).toBe(2);
    expect(badK.stderr).toMatch(/--k.*integer from 1 to 1024/);
    const noDir = await run(['import', path.join(work, 'nope'), '--db', path.join(work, 'x.db'), '--model', modelDir]);
    expect(noDir.code).toBe(2);
    expect(noDir.stderr).toMatch(/nope: cannot read folder/);
    const help = await run(['import', '--help']);
    for (const opt of ['--db', '--model', '--backend', '--json', '--store', '--prune']) expect(help.stdout).toContain(opt);
  });

  it('survives SIGKILL at several points: consistent catalog, and the rerun finishes exactly the rest', async () => {
    const db = path.join(work, 'crash.db');
    const args = ['import', lib.root, '--db', db, '--model', modelDir, '--batch-size', '8', '--json'];
    // Slow enough that a loaded machine still kills each importer well before it finishes.
    const pauseMs = 250;
    const slow = { CLIPKIT_TEST_SLOW_BATCH_MS: String(pauseMs) };

    // 1) early: while loading the model / scanning, before any batch.
    let importer = clipkit(args, slow);
    await new Promise((r) => setTimeout(r, 150));
    importer.child.kill('SIGKILL');
    expect((await importer.done).signal).toBe('SIGKILL');

    // 2) after the first batch, 3) after five batches in all, 4) in the middle of a pause.
    for (const committed of [1, 5 * 8]) {
      importer = clipkit(args, slow);
      const before = await waitForContents(db, () => true).catch(() => 0);
      await waitForContents(db, (n) => n >= Math.max(committed, before + 1));
      importer.child.kill('SIGKILL');
      expect((await importer.done).signal).toBe('SIGKILL');
      checkInvariants(db, DIM);
    }
    importer = clipkit(args, slow);
    const before = await waitForContents(db, () => true);
    await waitForContents(db, (n) => n > before);
    await new Promise((r) => setTimeout(r, pauseMs / 2)); // half-way through the next batch's pause
    importer.child.kill('SIGKILL');
    await importer.done;
    const { okContents } = checkInvariants(db, DIM);
    expect(okContents).toBeGreaterThan(5 * 8);
    expect(okContents).toBeLessThan(lib.uniqueImages);

    const rerun = await run(args);
    expect(rerun.code).toBe(0);
    const summary = JSON.parse(rerun.stdout) as { encoded: number; files: number };
    expect(summary.encoded).toBe(lib.uniqueImages - okContents);
    expect(summary.files).toBe(lib.images.length + lib.broken.length);
    const final = checkInvariants(db, DIM);
    expect(final).toEqual({ okContents: lib.uniqueImages, files: lib.images.length + lib.broken.length });

    // Same catalog as an uninterrupted import: same files, same contents, same embeddings.
    const clean = path.join(work, 'clean.db');
    expect((await run(['import', lib.root, '--db', clean, '--model', modelDir, '--json'])).code).toBe(0);
    const rows = (file: string) => {
      const raw = new Database(file, { readonly: true });
      const r = raw
        .prepare('SELECT f.path, c.hash, c.status, c.embedding FROM files f JOIN contents c ON c.id = f.content_id ORDER BY f.path')
        .all() as Array<{ path: string; hash: string; status: string; embedding: Buffer | null }>;
      raw.close();
      return r;
    };
    const a = rows(db);
    const b = rows(clean);
    expect(a.map((r) => [r.path, r.hash, r.status])).toEqual(b.map((r) => [r.path, r.hash, r.status]));
    a.forEach((r, i) => {
      if (!r.embedding) return;
      const x = new Float32Array(new Uint8Array(r.embedding).buffer);
      const y = new Float32Array(new Uint8Array(b[i]?.embedding as Buffer).buffer);
      for (let j = 0; j < x.length; j++) expect(Math.abs((x[j] as number) - (y[j] as number))).toBeLessThan(1e-5);
    });
  });

  it('refuses a second concurrent importer while search keeps working', async () => {
    const db = path.join(work, 'busy.db');
    const first = clipkit(['import', lib.root, '--db', db, '--model', modelDir, '--batch-size', '8'], { CLIPKIT_TEST_SLOW_BATCH_MS: '400' });
    await waitForContents(db, (n) => n >= 8);

    const second = await run(['import', lib.root, '--db', db, '--model', modelDir]);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/database is busy/);

    const raw = new Database(db, { readonly: true });
    const committed = raw
      .prepare(`SELECT f.path FROM files f JOIN contents c ON c.id = f.content_id WHERE c.status = 'ok' ORDER BY f.path LIMIT 1`)
      .pluck()
      .get() as string;
    raw.close();
    const search = await run(['search', '--image', committed, '--db', db, '--json', '--k', '2']);
    expect(search.code).toBe(0);
    const hits = JSON.parse(search.stdout) as Array<{ path: string; score: number }>;
    expect(Math.abs((hits[0]?.score as number) - 1)).toBeLessThan(1e-4);
    expect(first.child.exitCode).toBeNull(); // all of the above happened while it was importing

    const finished = await first.done;
    expect(finished.code).toBe(0);
    expect(checkInvariants(db, DIM).okContents).toBe(lib.uniqueImages);
  });
});
