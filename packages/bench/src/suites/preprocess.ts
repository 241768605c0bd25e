// Image preprocessing throughput on generated 12-megapixel JPEGs: clipkit's pipeline in exact
// mode (full decode + Pillow-exact fused kernel) and fast mode (shrink-on-load + the same
// kernel), against sharp resize + plain JS normalisation in the same run, all with the same
// number of images in flight. Also the fused kernel alone on an already decoded 12MP image.
// Quick mode: fewer repeats; tiny mode: three small JPEGs.
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import * as native from '@clipkit/native-cuda';
import { Clip, decodeImage, defaultImageConfig, ImagePreprocessor } from '@clipkit/core';
import { measure } from '../harness.js';
import { photoLikeJpeg } from '../photos.js';
import type { BenchOptions, BenchRow, SuiteOutput } from '../types.js';
import { cachedModel } from './encoders.js';

const cacheRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '.cache');
const SIZE = 224;
const MEAN = [0.48145466, 0.4578275, 0.40821073];
const STD = [0.26862954, 0.26130258, 0.27577711];

interface Spec {
  count: number;
  width: number;
  height: number;
}

/** Generated 12-MP-class JPEGs (photos.ts), cached across runs. */
async function cachedPhotos(spec: Spec): Promise<string[]> {
  const dir = path.join(cacheRoot, `preprocess-photos-${spec.count}x${spec.width}x${spec.height}-v1`);
  const list = () => readdirSync(dir).filter((f) => f.endsWith('.jpg')).sort().map((f) => path.join(dir, f));
  if (existsSync(path.join(dir, '.complete'))) return list();
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  process.stderr.write(`bench: generating ${spec.count} ${spec.width}x${spec.height} JPEGs in ${dir}…\n`);
  for (let i = 0; i < spec.count; i++) {
    writeFileSync(path.join(dir, `photo_${String(i).padStart(3, '0')}.jpg`), await photoLikeJpeg(spec.width, spec.height, 500 + i, 7));
  }
  writeFileSync(path.join(dir, '.complete'), '');
  return list();
}

/** The baseline: sharp's own resize + centre crop, then a plain JS HWC->CHW normalisation. */
async function sharpAndJs(file: string, out: Float32Array, slot: number): Promise<void> {
  const rgb = await sharp(file).resize(SIZE, SIZE, { fit: 'cover' }).removeAlpha().raw().toBuffer();
  const plane = SIZE * SIZE;
  const base = slot * 3 * plane;
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) out[base + c * plane + i] = (rgb[i * 3 + c]! / 255 - MEAN[c]!) / STD[c]!;
  }
}

async function allBounded(n: number, limit: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, n) }, worker));
}

/**
 * How far fast mode drifts from exact on these photos: max and mean abs difference per
 * normalised value (one uint8 level ≈ 0.0146), and the cosine between the two images'
 * embeddings on the ViT-B/32-shaped model (not in tiny mode).
 */
async function fastDrift(exact: Float32Array, fast: Float32Array, n: number, tiny: boolean): Promise<string> {
  let max = 0;
  let sum = 0;
  for (let i = 0; i < exact.length; i++) {
    const d = Math.abs(exact[i]! - fast[i]!);
    sum += d;
    if (d > max) max = d;
  }
  const pixels = `fast vs exact on these ${n} photos: max abs ${max.toFixed(4)}, mean abs ${(sum / exact.length).toFixed(5)} per value`;
  // The tiny model takes 32-pixel images: no embedding to compare at 224.
  if (tiny) return pixels;
  const clip = await Clip.load(cachedModel(false), { backend: 'native' });
  try {
    const e = await clip.encodeImages({ data: exact, n, size: SIZE }, { normalize: true });
    const f = await clip.encodeImages({ data: fast, n, size: SIZE }, { normalize: true });
    const dim = e.length / n;
    let minCos = 1;
    for (let i = 0; i < n; i++) {
      let dot = 0;
      for (let j = 0; j < dim; j++) dot += e[i * dim + j]! * f[i * dim + j]!;
      minCos = Math.min(minCos, dot);
    }
    return `${pixels}; embedding cosine ≥ ${minCos.toFixed(6)} (ViT-B/32-shaped model)`;
  } finally {
    clip.dispose();
  }
}

export async function benchPreprocess(opts: BenchOptions): Promise<SuiteOutput> {
  const spec: Spec = opts.tiny ? { count: 3, width: 640, height: 480 } : { count: 12, width: 4000, height: 3000 };
  const files = await cachedPhotos(spec);
  const n = files.length;
  const inFlight = Math.max(2, availableParallelism());
  const what = `${n} ${((spec.width * spec.height) / 1e6).toFixed(spec.width * spec.height >= 1e7 ? 0 : 1)}MP JPEGs, ${inFlight} in flight`;
  const repeats = opts.quick ? 2 : 3;
  const out = new Float32Array(n * 3 * SIZE * SIZE);
  const rows: BenchRow[] = [];

  const baselineName = `sharp resize + JS normalise (${what})`;
  const baseline = await measure(() => allBounded(n, inFlight, (i) => sharpAndJs(files[i]!, out, i)), { warmup: 1, repeats });
  rows.push({ name: baselineName, unit: 'images/s', value: n / baseline });

  const outputs: Float32Array[] = [];
  for (const mode of ['exact', 'fast'] as const) {
    const pre = new ImagePreprocessor(defaultImageConfig(SIZE), { mode, concurrency: inFlight });
    const seconds = await measure(() => pre.preprocessOrThrow(files, out), { warmup: 1, repeats });
    rows.push({ name: `clipkit ${mode} (${what})`, unit: 'images/s', value: n / seconds, baseline: baselineName, headline: true });
    outputs.push(out.slice());
  }
  const notes = [await fastDrift(outputs[0]!, outputs[1]!, n, opts.tiny ?? false)];

  // The fused kernel alone: resize + crop + normalise of one decoded image, no decoding.
  const decoded = await decodeImage(files[0]!);
  const slot = new Float32Array(3 * SIZE * SIZE);
  const reps = 10;
  const kernelSeconds = await measure(() => {
    for (let r = 0; r < reps; r++) native.preprocess([decoded], slot, { resizeShortest: SIZE });
  }, { warmup: 1, repeats: 5 });
  rows.push({
    name: `fused kernel only, ${decoded.width}x${decoded.height} decoded -> ${SIZE}`,
    unit: 'images/s',
    value: reps / kernelSeconds,
    note: `${((decoded.width * decoded.height * 3) / (kernelSeconds / reps) / 1e9).toFixed(2)} GB/s of input pixels`,
  });
  return { rows, notes };
}
