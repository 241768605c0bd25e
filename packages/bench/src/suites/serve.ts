// `clipkit serve` under load: GET /api/search (text query, k = 50) from 8 concurrent clients
// over HTTP against a 100,000-image catalog, p50 and p99, beside the same search called in
// process by one client (the Library API the server wraps); and a cached thumbnail, beside
// reading that cached file directly. The catalog is synthetic (seeded random embeddings, files
// hard-linked to a few small JPEGs), so no image is encoded; queries go through the real text
// encoder of a ViT-B/32-shaped model. Quick mode: 20,000 images; tiny: 500 and the tiny model.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, linkSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Clip, Library } from '@clipkit/core';
import { writeSyntheticCatalog } from '@clipkit/core/testing';
import { median } from '../harness.js';
import { photoLikeJpeg } from '../photos.js';
import type { BenchOptions, SuiteOutput } from '../types.js';
import { cachedModel } from './library.js';

const cacheRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '.cache');
const CLIENTS = 8;
const K = 50;
const DISTINCT_JPEGS = 16;
const QUERIES = [
  'a dog on the beach', 'sunset over the sea', 'a birthday cake with candles', 'snow in the mountains', 'a red car',
  'people at a wedding', 'a cat asleep on a sofa', 'city lights at night', 'a bowl of ramen', 'children playing football',
  'an old stone bridge', 'a field of sunflowers', 'a selfie in a mirror', 'fireworks', 'a horse in a meadow', 'a plate of sushi',
];

function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] as number;
}

/** The catalog and its photo folder, made once and kept under .cache. */
async function cachedCatalog(rows: number, modelDir: string): Promise<{ db: string; root: string }> {
  const dir = path.join(cacheRoot, `serve-catalog-${rows}-${path.basename(modelDir)}-v2`);
  const db = path.join(dir, 'catalog.db');
  const root = path.join(dir, 'photos');
  if (existsSync(path.join(dir, '.complete'))) return { db, root };
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  process.stderr.write(`bench: generating a ${rows}-image synthetic catalog in ${dir}…\n`);
  const jpegs: string[] = [];
  for (let i = 0; i < DISTINCT_JPEGS; i++) {
    const file = path.join(dir, `scene-${i}.jpg`);
    writeFileSync(file, await photoLikeJpeg(640, 480, 2000 + i, 2));
    jpegs.push(file);
  }
  const files: string[] = [];
  for (let i = 0; i < rows; i++) {
    const sub = path.join(root, String(Math.floor(i / 1000)).padStart(3, '0'));
    if (i % 1000 === 0) mkdirSync(sub, { recursive: true });
    const file = path.join(sub, `IMG_${String(i).padStart(6, '0')}.jpg`);
    linkSync(jpegs[i % jpegs.length] as string, file); // a real file per row, no disk per row
    files.push(file);
  }
  const clip = await Clip.load(modelDir);
  const info = clip.info;
  clip.dispose();
  await writeSyntheticCatalog(db, {
    model: { id: info.id, projectionDim: info.projectionDim, configHash: info.configHash, dir: info.dir },
    files,
    roots: [root],
    seed: 14,
  });
  writeFileSync(path.join(dir, '.complete'), '');
  return { db, root };
}

/** `clipkit serve` as a user runs it, in its own process; resolves with its base URL. */
function startServer(db: string): Promise<{ child: ChildProcess; url: string }> {
  const bin = path.resolve(path.dirname(fileURLToPath(import.meta.resolve('@clipkit/core'))), '..', 'bin', 'clipkit.js');
  const child = spawn(process.execPath, [bin, 'serve', '--db', db, '--port', '0', '--json'], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve({ child, url: (JSON.parse(out.split('\n')[0] as string) as { url: string }).url });
    });
    child.on('close', (code) => reject(new Error(`clipkit serve exited ${code} before listening`)));
  });
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

export async function benchServe(opts: BenchOptions): Promise<SuiteOutput> {
  const rows = opts.tiny ? 500 : opts.quick ? 20_000 : 100_000;
  const perClient = opts.tiny ? 3 : opts.quick ? 12 : 40;
  const modelDir = cachedModel(opts.tiny ?? false);
  const { db } = await cachedCatalog(rows, modelDir);
  const shape = opts.tiny ? 'tiny model' : 'ViT-B/32 text encoder';
  const size = `${rows.toLocaleString('en-US')}-image catalog`;

  // Baseline: the Library call the endpoint wraps, in process, one caller at a time.
  const library = await Library.openExisting(db);
  const direct: number[] = [];
  try {
    await library.search(QUERIES[0] as string, K);
    for (let i = 0; i < perClient * 2; i++) direct.push(await timed(() => library.search(QUERIES[i % QUERIES.length] as string, K)));
  } finally {
    await library.close();
  }

  const { child, url } = await startServer(db);
  try {
    const search = async (q: string) => {
      const res = await fetch(new URL(`/api/search?${new URLSearchParams({ q, k: String(K) })}`, url));
      if (res.status !== 200) throw new Error(`GET /api/search: ${res.status} ${await res.text()}`);
      const body = (await res.json()) as { results: unknown[] };
      if (body.results.length !== Math.min(K, rows)) throw new Error(`GET /api/search returned ${body.results.length} results`);
    };
    for (const q of QUERIES.slice(0, 4)) await search(q); // warm: model, matrix, image sizes
    const latencies: number[] = [];
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, c) => {
        for (let i = 0; i < perClient; i++) latencies.push(await timed(() => search(QUERIES[(c * perClient + i) % QUERIES.length] as string)));
      }),
    );
    const wall = (performance.now() - t0) / 1e3;

    // Thumbnail: made once, then served from the disk cache.
    const thumbUrl = new URL('/api/thumb/1', url);
    const thumb = async () => {
      const res = await fetch(thumbUrl);
      if (res.status !== 200) throw new Error(`GET /api/thumb/1: ${res.status}`);
      await res.arrayBuffer();
    };
    await thumb();
    const thumbs: number[] = [];
    for (let i = 0; i < perClient * 4; i++) thumbs.push(await timed(thumb));
    const thumbDir = `${db}.thumbs`;
    const cachedFile = readdirSync(thumbDir, { recursive: true }).map(String).find((f) => f.endsWith('.webp')) as string;
    const reads: number[] = [];
    for (let i = 0; i < perClient * 4; i++) reads.push(await timed(async () => readFileSync(path.join(thumbDir, cachedFile))));

    const baseline = `Library.search in process, 1 caller, k=${K} (${size}, ${shape}) p50`;
    return {
      rows: [
        { name: baseline, unit: 'ms', value: median(direct) },
        { name: `GET /api/search, ${CLIENTS} concurrent clients, k=${K} (${size}) p50`, unit: 'ms', value: percentile(latencies, 50), baseline, note: `${(latencies.length / wall).toFixed(1)} requests/s` },
        { name: `GET /api/search, ${CLIENTS} concurrent clients, k=${K} (${size}) p99`, unit: 'ms', value: percentile(latencies, 99), baseline },
        { name: 'read the cached thumbnail file directly p50', unit: 'ms', value: median(reads) },
        { name: 'GET /api/thumb/:id, cached on disk, 1 client p50', unit: 'ms', value: percentile(thumbs, 50), baseline: 'read the cached thumbnail file directly p50' },
      ],
      notes: [`${latencies.length} searches over ${CLIENTS} clients; the server is \`clipkit serve\` in its own process; text queries are encoded on every request (no cache)`],
    };
  } finally {
    child.kill('SIGTERM');
  }
}
