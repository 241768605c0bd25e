// Photo-library import throughput (scan → read+hash → decode/preprocess → encode → SQLite) on
// generated 12-megapixel JPEGs with a ViT-B/32-shaped model, against the encoder alone in the
// same run: the import should run at the encoder's speed, i.e. decoding hides behind encoding.
// Quick mode: 64 photos instead of 500; tiny mode: the tiny model and three small JPEGs.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Clip, ImagePreprocessor, Library } from '@clipkit/core';
import { TINY_TEXT, TINY_VISION, VIT_B32_TEXT, VIT_B32_VISION, writeRandomClipModel } from '@clipkit/core/testing';
import { measure } from '../harness.js';
import { photoLikeJpeg } from '../photos.js';
import type { BenchOptions, BenchRow } from '../types.js';

const cacheRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '.cache');
const BATCH = 32;

interface Photos {
  dir: string;
  count: number;
  width: number;
  height: number;
}

/** A model directory with safetensors (native backend); the encoders suite's one when present. */
export function cachedModel(tiny: boolean): string {
  const shared = path.join(cacheRoot, tiny ? 'random-tiny-v1' : 'random-vit-b32-v1');
  if (existsSync(path.join(shared, '.complete'))) return shared;
  const dir = path.join(cacheRoot, tiny ? 'library-tiny-v1' : 'library-vit-b32-v1');
  if (existsSync(path.join(dir, '.complete'))) return dir;
  rmSync(dir, { recursive: true, force: true });
  process.stderr.write(`bench: generating a random ${tiny ? 'tiny' : 'ViT-B/32'} model in ${dir}…\n`);
  writeRandomClipModel(dir, {
    seed: 32,
    vision: tiny ? TINY_VISION : VIT_B32_VISION,
    text: tiny ? TINY_TEXT : VIT_B32_TEXT,
    projectionDim: tiny ? 32 : 512,
  });
  writeFileSync(path.join(dir, '.complete'), '');
  return dir;
}

/**
 * Encoding 500 such 12 MP files takes most of an hour on 2 cores, so DISTINCT scenes are
 * encoded and the rest are byte-level variants of them: a unique JPEG comment segment after
 * SOI gives every file its own content hash (so each one is read, hashed, decoded and encoded
 * like any new photo) at no encoding cost.
 */
const DISTINCT = 16;

export async function cachedPhotos(opts: BenchOptions): Promise<Photos> {
  const count = opts.tiny ? 3 : opts.quick ? 64 : 500;
  const spec = opts.tiny ? { count, width: 640, height: 480 } : { count, width: 4000, height: 3000 };
  const dir = path.join(cacheRoot, `library-photos-${spec.count}x${spec.width}x${spec.height}-v2`);
  const photos = { dir, ...spec };
  if (existsSync(path.join(dir, '.complete'))) return photos;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  process.stderr.write(`bench: generating ${spec.count} ${spec.width}x${spec.height} JPEGs in ${dir}…\n`);
  const scenes: Buffer[] = [];
  for (let i = 0; i < Math.min(DISTINCT, spec.count); i++) scenes.push(await photoLikeJpeg(spec.width, spec.height, 1000 + i, 1));
  for (let i = 0; i < spec.count; i++) {
    const jpeg = scenes[i % scenes.length] as Buffer;
    writeFileSync(path.join(dir, `IMG_${String(i).padStart(4, '0')}.jpg`), withComment(jpeg, `clipkit bench photo ${i}`));
  }
  writeFileSync(path.join(dir, '.complete'), '');
  return photos;
}

/** The JPEG with a COM segment inserted right after its SOI marker. */
function withComment(jpeg: Buffer, text: string): Buffer {
  const payload = Buffer.from(text, 'latin1');
  const segment = Buffer.alloc(4);
  segment.writeUInt16BE(0xfffe, 0);
  segment.writeUInt16BE(payload.length + 2, 2);
  return Buffer.concat([jpeg.subarray(0, 2), segment, payload, jpeg.subarray(2)]);
}

export async function benchImport(opts: BenchOptions): Promise<BenchRow[]> {
  const modelDir = cachedModel(opts.tiny ?? false);
  const photos = await cachedPhotos(opts);
  const files = readdirSync(photos.dir).filter((f) => f.endsWith('.jpg')).map((f) => path.join(photos.dir, f));
  const shape = opts.tiny ? 'tiny model' : 'ViT-B/32';
  const what = `${photos.count} ${((photos.width * photos.height) / 1e6).toFixed(1)}MP JPEGs`;
  const rows: BenchRow[] = [];
  const work = mkdtempSync(path.join(tmpdir(), 'clipkit-bench-library-'));
  try {
    // Encoder alone on preprocessed batches of BATCH images, timed before and after the import:
    // on a shared machine the faster of the two is the fairer baseline.
    const clip = await Clip.load(modelDir);
    const pre = ImagePreprocessor.fromModelDir(modelDir, { mode: 'fast' });
    const sample = files.slice(0, Math.min(BATCH, files.length));
    const pixels = await pre.preprocessOrThrow(sample, new Float32Array(sample.length * 3 * pre.size * pre.size));
    const timeEncoder = () => measure(() => clip.encodeImages(pixels), { warmup: 1, repeats: opts.quick ? 5 : 3 });
    const encodeBefore = await timeEncoder();

    // Decode + preprocess alone (fast mode), for where the time goes.
    const decodeSeconds = await measure(() => pre.preprocess(sample), { warmup: 1, repeats: 3 });

    // The whole import into a fresh catalog (its own model instance, as a user's run would have).
    const library = await Library.open(path.join(work, 'bench.db'), { model: modelDir });
    const t0 = performance.now();
    const summary = await library.import(photos.dir, { batchSize: BATCH });
    const seconds = (performance.now() - t0) / 1e3;
    await library.close();
    if (summary.encoded !== photos.count) throw new Error(`import encoded ${summary.encoded} of ${photos.count} photos`);

    const encodeSeconds = Math.min(encodeBefore, await timeEncoder());
    const encoderName = `encoder only, batch ${sample.length} (${shape}, ${clip.runtime.backend})`;
    clip.dispose();
    rows.push({ name: encoderName, unit: 'images/s', value: sample.length / encodeSeconds, note: 'best of before/after the import' });
    rows.push({ name: `decode+preprocess only, fast mode, batch ${sample.length}`, unit: 'images/s', value: sample.length / decodeSeconds });
    rows.push({
      name: `import ${what} (${shape}, end to end incl. model load)`,
      unit: 'images/s',
      value: photos.count / seconds,
      baseline: encoderName,
    });
    rows.push({
      name: `import ${what} (${shape}, encode phase)`,
      unit: 'images/s',
      value: summary.imagesPerSecond,
      baseline: encoderName,
    });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return rows;
}
