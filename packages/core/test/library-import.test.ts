// Library import, incremental reruns, search and duplicates on a generated photo library with a
// tiny seeded model. Expected results come from the fixture manifest and from brute-force
// recomputation in JS over the stored embeddings, never from recorded outputs.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Clip } from '../src/clip.js';
import { CatalogMismatchError, UsageError } from '../src/errors.js';
import * as addon from '@clipkit/native-cuda';
import type { Catalog } from '../src/library/catalog/index.js';
import { SqliteCatalog } from '../src/library/catalog/sqlite/catalog.js';
import type { LibraryEncoder } from '../src/library/encoder.js';
import { ImportJob, runImport } from '../src/library/import.js';
import { Library, type ImportProgress } from '../src/library/index.js';
import { loadLibraryEncoder } from '../src/library/model-encoder.js';
import { writeRandomClipModel } from '../src/testing/random-model.js';
import { encodePicture, makePhotoLibrary, type PhotoLibrary } from './helpers/photo-library.js';
import { scratchDir } from './helpers/tmp-dir.js';

const tmp = scratchDir('library');
let work: string;
let modelDir: string;
let lib: PhotoLibrary;
let clip: Clip;

beforeAll(async () => {
  work = tmp();
  modelDir = writeRandomClipModel(path.join(work, 'model'), { seed: 7, initStd: 0.1 }).dir;
  lib = await makePhotoLibrary(path.join(work, 'photos'), { photos: 120 });
  // The Library's default precision (auto), so its embeddings are Clip's to the last bit.
  clip = await Clip.load(modelDir, { precision: 'auto' });
});

afterAll(() => clip?.dispose());

/** Every stored embedding (f32 catalog) by path, read straight from SQLite. */
function storedVectors(db: string): Map<string, Float32Array> {
  const raw = new Database(db, { readonly: true });
  const rows = raw
    .prepare(`SELECT f.path, c.embedding FROM files f JOIN contents c ON c.id = f.content_id WHERE c.status = 'ok' AND f.missing = 0`)
    .all() as Array<{ path: string; embedding: Buffer }>;
  raw.close();
  return new Map(rows.map((r) => [r.path, new Float32Array(r.embedding.buffer.slice(r.embedding.byteOffset, r.embedding.byteOffset + r.embedding.byteLength))]));
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] as number) * (b[i] as number);
  return s;
}

function integrity(db: string): string {
  const raw = new Database(db, { readonly: true });
  const r = String(raw.pragma('integrity_check', { simple: true }));
  raw.close();
  return r;
}

describe('Library import', () => {
  let db: string;

  it('imports everything once: copies linked, broken files recorded, the rest ignored', async () => {
    db = path.join(work, 'main.db');
    const library = await Library.open(db, { model: modelDir });
    const events: ImportProgress[] = [];
    const job = library.import(lib.root, { batchSize: 16 });
    job.on('progress', (p) => events.push(p));
    const summary = await job;

    expect(summary.encoded).toBe(lib.uniqueImages);
    expect(summary.linked).toBe(lib.copies.length);
    expect(summary.errors.map((e) => e.path).sort()).toEqual([...lib.broken].sort());
    expect(summary.files).toBe(lib.images.length + lib.broken.length);
    expect(summary.notImages).toBe(2);
    expect(summary.unchanged).toBe(0);
    expect(await library.counts()).toEqual({
      files: lib.images.length + lib.broken.length,
      missing: 0,
      contents: lib.uniqueImages + lib.broken.length,
      ok: lib.images.length,
      errors: lib.broken.length,
    });
    const reasons = new Map((await library.errors()).map((e) => [path.basename(e.path), e]));
    expect(reasons.get('empty.png')?.message).toMatch(/empty/);
    expect(reasons.get('noise.jpg')?.message).toMatch(/not an image/);
    expect(reasons.get('truncated.jpg')?.code).toMatch(/IMAGE_/);

    // Progress: a scan phase, then per-batch encode events that count up to the total, then done.
    const last = events.at(-1);
    expect(last?.phase).toBe('done');
    expect(last?.done).toBe(last?.total);
    expect(last?.encoded).toBe(lib.uniqueImages);
    const encodeDone = events.filter((e) => e.phase === 'encode').map((e) => e.done);
    expect(encodeDone).toEqual([...encodeDone].sort((a, b) => a - b));
    expect(encodeDone.length).toBeGreaterThanOrEqual(Math.ceil(lib.uniqueImages / 16));
    expect(await library.integrityCheck()).toBe('ok');

    // Stage timing: every file the pipeline read, every image it decoded and encoded, counted
    // once; busy time within the encode phase's wall time (overlapping calls count once).
    const { stages } = summary;
    const readFiles = lib.images.length + lib.broken.length + summary.notImages;
    expect(stages.read.items).toBe(readFiles);
    // Broken files that sniff as no image are never decoded; the others fail in the decoder.
    expect(stages.decode.items).toBeGreaterThanOrEqual(lib.uniqueImages);
    expect(stages.decode.items).toBeLessThanOrEqual(lib.uniqueImages + lib.broken.length);
    expect(stages.preprocess.items).toBe(lib.uniqueImages);
    expect(stages.encode.items).toBe(lib.uniqueImages);
    expect(stages.write.items).toBe(Math.ceil(lib.uniqueImages / 16));
    for (const t of Object.values(stages)) {
      expect(t.seconds).toBeGreaterThan(0);
      expect(t.seconds).toBeLessThanOrEqual(summary.seconds);
      expect(t.itemsPerSecond).toBeCloseTo(t.items / t.seconds, 6);
    }
    await library.close();
  });

  it('stores the model’s normalised embeddings (checked against Clip directly)', async () => {
    const vectors = storedVectors(db);
    const sample = lib.images.slice(0, 4);
    const { ImagePreprocessor } = await import('../src/image/preprocess.js');
    const pre = ImagePreprocessor.fromModelDir(modelDir, { mode: 'fast' });
    const pixels = await pre.preprocessOrThrow(sample.map((p) => fs.readFileSync(p)));
    const direct = await clip.encodeImages(pixels, { normalize: true });
    const dim = clip.info.projectionDim;
    sample.forEach((p, i) => {
      const stored = vectors.get(p) as Float32Array;
      expect(stored.length).toBe(dim);
      const want = direct.subarray(i * dim, (i + 1) * dim);
      for (let j = 0; j < dim; j++) expect(Math.abs((stored[j] as number) - (want[j] as number))).toBeLessThan(1e-6);
    });
  });

  it('a rerun reads nothing and encodes nothing', async () => {
    const library = await Library.open(db); // model comes from the catalog
    const summary = await library.import(lib.root);
    expect(summary).toMatchObject({ encoded: 0, linked: 0, missing: 0, unchanged: lib.images.length + lib.broken.length });
    expect(summary.errors).toEqual([]); // broken files are not retried while unchanged
    // Only the files that are no image (never catalogued) are read again.
    expect(summary.stages.read.items).toBe(summary.notImages);
    expect(summary.stages.encode).toEqual({ items: 0, seconds: 0, itemsPerSecond: 0 });
    await library.close();
  });

  it('re-encodes changed files, links renamed and touched ones, marks removed ones, prunes on request', async () => {
    const changed = lib.images[3] as string;
    const renamedFrom = lib.images[10] as string;
    const renamedTo = path.join(lib.root, '2022', 'renamed.jpg');
    const removed = lib.images[20] as string;
    const touched = lib.images[30] as string;
    const fixed = lib.broken[0] as string;
    const oldVector = storedVectors(db).get(changed) as Float32Array;

    fs.writeFileSync(changed, await encodePicture(424242, 64, 'png'));
    fs.renameSync(renamedFrom, renamedTo);
    fs.rmSync(removed);
    const later = new Date(Date.now() + 5000);
    fs.utimesSync(touched, later, later);
    fs.writeFileSync(fixed, await encodePicture(434343, 64, 'jpeg'));

    const library = await Library.open(db);
    const summary = await library.import(lib.root);
    expect(summary.encoded).toBe(2); // the changed file and the repaired one
    expect(summary.linked).toBe(2); // the renamed file and the touched one
    expect(summary.missing).toBe(2); // the rename's old path and the removed file
    expect(summary.errors).toEqual([]);
    const vectors = storedVectors(db);
    expect(dot(vectors.get(changed) as Float32Array, oldVector)).toBeLessThan(0.9999);
    expect(vectors.has(renamedTo)).toBe(true);
    expect(vectors.has(renamedFrom)).toBe(false);
    expect(await library.counts()).toMatchObject({ missing: 2, errors: lib.broken.length - 1 });

    const pruned = await library.import(lib.root, { prune: true });
    expect(pruned).toMatchObject({ encoded: 0, linked: 0, missing: 2 });
    expect((await library.counts()).missing).toBe(0);
    expect(await library.integrityCheck()).toBe('ok');
    await library.close();
    lib.images = lib.images.filter((p) => p !== renamedFrom && p !== removed).concat(renamedTo);
    lib.broken = lib.broken.slice(1);
    lib.images.push(fixed);
  });

  it('image search finds the photo itself first with cosine ≈ 1', async () => {
    const library = await Library.open(db);
    for (const query of [lib.images[0], lib.images[7], lib.nearDuplicates[1]?.[0]] as string[]) {
      const hits = await library.search('', 5, { image: query });
      expect(hits).toHaveLength(5);
      // A byte-identical copy ties with the photo itself; either may come first.
      const same = new Set([query, ...lib.copies.filter((c) => fs.readFileSync(c).equals(fs.readFileSync(query)))]);
      expect(same.has(hits[0]?.path as string)).toBe(true);
      expect(Math.abs((hits[0]?.score as number) - 1)).toBeLessThan(1e-4);
      expect(hits.map((h) => h.score)).toEqual([...hits.map((h) => h.score)].sort((a, b) => b - a));
    }
    await library.close();
  });

  it('text and combined queries rank like a brute-force scan of the catalog', async () => {
    const library = await Library.open(db);
    const vectors = storedVectors(db);
    const dim = clip.info.projectionDim;
    const [beach, sunset, people, dog] = [0, 1, 2, 3] as const;
    const texts = await clip.encodeTexts(['beach', 'sunset', 'people', 'dog'], { normalize: true });
    const row = (i: number) => texts.subarray(i * dim, (i + 1) * dim);
    const combine = (weights: Array<[number, number]>) => {
      const v = new Float32Array(dim);
      for (const [i, w] of weights) for (let j = 0; j < dim; j++) v[j] = (v[j] as number) + w * (row(i)[j] as number);
      const n = Math.sqrt(dot(v, v));
      return v.map((x) => x / n);
    };
    const cases: Array<[string, Float32Array]> = [
      ['beach', combine([[beach, 1]])],
      ['"beach" + "sunset" - "people"', combine([[beach, 1], [sunset, 1], [people, -1]])],
      ['2*"dog" - 0.5*sunset', combine([[dog, 2], [sunset, -0.5]])],
    ];
    for (const [query, vector] of cases) {
      const k = 10;
      const hits = await library.search(query, k);
      expect(hits).toHaveLength(k);
      const expected = [...vectors].map(([p, e]) => ({ path: p, score: dot(vector, e) })).sort((a, b) => b.score - a.score);
      hits.forEach((h, i) => {
        expect(Math.abs(h.score - (expected[i]?.score as number))).toBeLessThan(1e-4);
        expect(Math.abs(h.score - dot(vector, vectors.get(h.path) as Float32Array))).toBeLessThan(1e-4);
      });
    }
    await expect(library.search('   ', 5)).rejects.toThrow(UsageError);
    await expect(library.search('"beach" - "beach"', 5)).rejects.toThrow(/cancel out/);
    await expect(library.search('', 5, { image: path.join(work, 'nope.jpg') })).rejects.toThrow(/nope\.jpg/);
    await library.close();
  });

  it('duplicate groups equal a brute-force union of all pairs ≥ threshold', async () => {
    const library = await Library.open(db);
    const vectors = [...storedVectors(db)];
    const scores = vectors.flatMap(([, a], i) => vectors.slice(i + 1).map(([, b]) => dot(a, b)));
    // A threshold in a clear gap of the score distribution (so kernel and JS rounding agree on
    // every pair), at or below the near-duplicates' weakest pair.
    const vectorOf = (p: string) => vectors.find(([q]) => q === p)?.[1] as Float32Array;
    const weakestNear = Math.min(...lib.nearDuplicates.map(([a, b]) => dot(vectorOf(a), vectorOf(b))));
    const sorted = [...scores].sort((a, b) => b - a);
    const gap = sorted.findIndex((s, i) => s <= weakestNear && s - (sorted[i + 1] ?? -1) > 2e-4);
    expect(gap).toBeGreaterThanOrEqual(0);
    const threshold = ((sorted[gap] as number) + (sorted[gap + 1] as number)) / 2;
    expect(scores.filter((s) => s < threshold).length).toBeGreaterThan(0);

    const parent = vectors.map((_, i) => i);
    const find = (i: number): number => (parent[i] === i ? i : find(parent[i] as number));
    vectors.forEach(([, a], i) =>
      vectors.forEach(([, b], j) => {
        if (j > i && dot(a, b) >= threshold) parent[find(j)] = find(i);
      }),
    );
    const expected = new Map<number, string[]>();
    vectors.forEach(([p], i) => expected.set(find(i), [...(expected.get(find(i)) ?? []), p]));
    const expectedGroups = [...expected.values()].filter((g) => g.length > 1).map((g) => g.sort().join('|')).sort();

    const groups = await library.duplicates(threshold);
    const got = groups.map((g) => g.paths.join('|')).sort();
    expect(got).toEqual(expectedGroups);
    for (const [a, b] of lib.nearDuplicates) expect(groups.some((g) => g.paths.includes(a) && g.paths.includes(b))).toBe(true);
    for (const g of groups) expect(g.minScore).toBeGreaterThanOrEqual(threshold);
    await library.close();
  });

  it('refuses another model on the same catalog', async () => {
    const other = writeRandomClipModel(path.join(work, 'other-model'), { seed: 7, projectionDim: 16, initStd: 0.1 }).dir;
    const library = await Library.open(db, { model: other });
    await expect(library.import(lib.root)).rejects.toThrow(CatalogMismatchError);
    await expect(library.search('beach', 3)).rejects.toThrow(/refusing to mix/);
    await library.close();
    expect(integrity(db)).toBe('ok');
  });
});

describe('Library import of a folder with unreadable entries', () => {
  it('reports a link it cannot follow as an error, ignores a dangling one, imports the rest', async () => {
    const root = path.join(work, 'links');
    fs.mkdirSync(root);
    fs.writeFileSync(path.join(root, 'ok.jpg'), await encodePicture(5, 64, 'jpeg'));
    fs.symlinkSync('loop.jpg', path.join(root, 'loop.jpg')); // stat: ELOOP
    fs.symlinkSync('nowhere.jpg', path.join(root, 'dangling.jpg')); // stat: ENOENT
    const library = await Library.open(path.join(work, 'links.db'), { model: modelDir });
    const summary = await library.import(root);
    await library.close();
    expect(summary.encoded).toBe(1);
    expect(summary.errors.map((e) => [path.basename(e.path), e.code])).toEqual([['loop.jpg', 'ELOOP']]);
    expect(summary.errors[0]?.message).toContain('loop.jpg');
  });
});

describe('Library.loadModel', () => {
  it('reads the weights then: with the weights file gone afterwards, an import still encodes', async () => {
    const copy = path.join(work, 'model-copy');
    fs.cpSync(modelDir, copy, { recursive: true });
    const photos = await makePhotoLibrary(path.join(work, 'few-photos'), { photos: 3 });
    const library = await Library.open(path.join(work, 'loaded.db'), { model: copy });
    try {
      await library.loadModel();
      fs.rmSync(path.join(copy, 'model.safetensors'));
      const summary = await library.import(photos.root);
      expect(summary.encoded).toBe(photos.uniqueImages);
      expect(summary.errors.map((e) => e.path).sort()).toEqual([...photos.broken].sort());
    } finally {
      await library.close();
    }
  });
});

describe('Library with --store f16', () => {
  it('stores half-precision embeddings that search like the f32 ones', async () => {
    const db32 = path.join(work, 'main.db');
    const db16 = path.join(work, 'half.db');
    const library = await Library.open(db16, { model: modelDir, store: 'f16' });
    const summary = await library.import(lib.root);
    expect(summary.encoded).toBeGreaterThan(0);
    const raw = new Database(db16, { readonly: true });
    const sizes = raw.prepare(`SELECT DISTINCT length(embedding) FROM contents WHERE status = 'ok'`).pluck().all();
    raw.close();
    expect(sizes).toEqual([clip.info.projectionDim * 2]);

    const full = await Library.open(db32);
    for (const query of [lib.images[2], lib.images[11]] as string[]) {
      const half = await library.search('', 3, { image: query });
      const ref = await full.search('', 3, { image: query });
      expect(half[0]?.path).toBe(ref[0]?.path);
      half.forEach((h, i) => expect(Math.abs(h.score - (ref[i]?.score as number))).toBeLessThan(3e-3));
    }
    const hits = await library.search('"beach" + "sunset"', 5);
    expect(hits).toHaveLength(5);
    expect((await library.duplicates(0.9999)).length).toBeGreaterThan(0);
    await full.close();
    await library.close();
    expect(integrity(db16)).toBe('ok');
  });
});

describe('import pipeline', () => {
  it('decodes batch i+1 while batch i encodes, and never runs further ahead', async () => {
    const real = await loadLibraryEncoder(modelDir);
    const log: string[] = [];
    let prepares = 0;
    let encodes = 0;
    // The real encoder, slowed so that encoding clearly dominates the tiny model's batches.
    const traced: LibraryEncoder = {
      ...real,
      identity: real.identity,
      async prepare(files) {
        const i = prepares++;
        log.push(`prepare ${i} start`);
        const out = await real.prepare(files);
        log.push(`prepare ${i} end`);
        return out;
      },
      async encodeImages(pixels) {
        const i = encodes++;
        log.push(`encode ${i} start`);
        const out = await real.encodeImages(pixels);
        await new Promise((r) => setTimeout(r, 100));
        log.push(`encode ${i} end`);
        return out;
      },
    };
    const catalog = SqliteCatalog.open(path.join(work, 'pipeline.db'), { create: true });
    await catalog.bindModel(real.identity);
    const summary = await new ImportJob((job) => runImport(job, catalog, traced, addon, 'f32', lib.root, { batchSize: 8 }));
    await catalog.close();
    real.dispose();

    const batches = Math.ceil(summary.encoded / 8);
    expect(batches).toBeGreaterThan(4);
    const at = (event: string) => {
      const i = log.indexOf(event);
      expect(i, event).toBeGreaterThanOrEqual(0);
      return i;
    };
    for (let i = 1; i < batches; i++) {
      expect(at(`prepare ${i} start`)).toBeLessThan(at(`encode ${i - 1} end`)); // overlap
      if (i >= 2) expect(at(`prepare ${i} start`)).toBeGreaterThan(at(`encode ${i - 2} end`)); // bounded
    }
  });

  it('a shared import that fails leaves no read behind to reject unhandled (a claim on a server that went away)', async () => {
    const dir = path.join(work, 'queue-fail');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'not an image');
    const file = path.join(dir, 'notes.txt');
    const st = fs.statSync(file);
    let claims = 0;
    // The server goes away: settling the first file fails at once, the claim already in flight
    // fails a moment later, after the import has failed.
    const queue = {
      begin: async () => undefined,
      enqueue: async (files: readonly unknown[]) => ({ changed: files.length, revived: 0 }),
      claim: async () => {
        if (claims++ === 0) return [{ path: file, size: st.size, mtimeMs: st.mtimeMs, fsPath: Buffer.from(file) }];
        await new Promise((r) => setTimeout(r, 50));
        throw new Error('claim: connection terminated');
      },
      outstanding: async () => ({ files: 0, waitSeconds: 0 }),
      settle: async () => {
        throw new Error('settle: connection terminated');
      },
      end: async () => undefined,
    };
    const sqlite = SqliteCatalog.open(path.join(work, 'queue-fail.db'), { create: true });
    const catalog = Object.assign(Object.create(sqlite) as SqliteCatalog, { workQueue: queue }) as unknown as Catalog;
    const encoder = { identity: { projectionDim: 4 }, precision: 'fp32' } as unknown as LibraryEncoder;
    const unhandled: unknown[] = [];
    const onUnhandled = (err: unknown) => unhandled.push(err);
    process.on('unhandledRejection', onUnhandled);
    try {
      await expect(new ImportJob((job) => runImport(job, catalog, encoder, addon, 'f32', dir))).rejects.toThrow(/settle: connection terminated/);
      await new Promise((r) => setTimeout(r, 150));
      expect(claims).toBe(2);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      await sqlite.close();
    }
  });
});
