// What a TypeScript developer would pick instead: Transformers.js (@huggingface/transformers),
// run on the same generated ViT-B/32-shaped model and its own ONNX export that clipkit's onnx
// backend loads, from local files only (no hub). Same run, same inputs:
// - JPEG files → image embeddings: Transformers.js's RawImage + CLIPImageProcessor + vision
//   model, against clipkit's Clip.encodeImages on the same paths: exact mode (native and onnx
//   backends) and, headlined, fast mode as `clipkit import` runs it (precision auto, and fp32);
// - strings → text embeddings: its tokenizer + text model against Clip.encodeTexts;
// - its CLIP tokenizer against @clipkit/tokenizer on CLIP's real vocabulary (when present).
// Tiny mode: the tiny model and three small JPEGs.
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Clip } from '@clipkit/core';
import { ClipTokenizer } from '@clipkit/tokenizer';
import { measure } from '../harness.js';
import { photoLikeJpeg } from '../photos.js';
import { writeTransformersTokenizer } from '../transformers-files.js';
import type { BenchOptions, BenchRow, SuiteOutput } from '../types.js';
import { cachedModel } from './encoders.js';
import { captions, findVocabulary } from './tokenizer.js';

const cacheRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '.cache');

async function cachedPhotos(count: number, width: number, height: number): Promise<string[]> {
  const dir = path.join(cacheRoot, `transformers-photos-${count}x${width}x${height}-v1`);
  const list = () => readdirSync(dir).filter((f) => f.endsWith('.jpg')).sort().map((f) => path.join(dir, f));
  if (existsSync(path.join(dir, '.complete'))) return list();
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  process.stderr.write(`bench: generating ${count} ${width}x${height} JPEGs in ${dir}…\n`);
  for (let i = 0; i < count; i++) {
    writeFileSync(path.join(dir, `photo_${String(i).padStart(3, '0')}.jpg`), await photoLikeJpeg(width, height, 700 + i, 3));
  }
  writeFileSync(path.join(dir, '.complete'), '');
  return list();
}

/** The model directory with the tokenizer files Transformers.js reads (from its own vocabulary). */
function modelForTransformers(tiny: boolean): string {
  const dir = cachedModel(tiny);
  if (!existsSync(path.join(dir, 'tokenizer.json'))) writeTransformersTokenizer(dir, dir);
  return dir;
}

/** CLIP's real vocabulary as Transformers.js reads it, in a folder of its own. */
function realTokenizerDir(vocabDir: string): string {
  const dir = path.join(cacheRoot, 'transformers-clip-tokenizer-v1');
  if (existsSync(path.join(dir, '.complete'))) return dir;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeTransformersTokenizer(dir, vocabDir);
  writeFileSync(path.join(dir, '.complete'), '');
  return dir;
}

export async function benchTransformers(opts: BenchOptions): Promise<SuiteOutput> {
  const tiny = opts.tiny ?? false;
  const tjs = await import('@huggingface/transformers');
  // Local files only: a hub download would measure the network, and none is reachable in CI.
  tjs.env.allowRemoteModels = false;
  tjs.env.allowLocalModels = true;
  tjs.env.useBrowserCache = false;
  tjs.env.useFSCache = false;
  const modelDir = modelForTransformers(tiny);
  tjs.env.localModelPath = `${path.dirname(modelDir)}/`;
  const modelName = path.basename(modelDir);
  const shape = tiny ? 'tiny model' : 'ViT-B/32';
  const batch = tiny ? 3 : 16;
  const files = tiny ? await cachedPhotos(3, 640, 480) : await cachedPhotos(batch, 4000, 3000);
  const what = tiny ? `${files.length} 0.3MP JPEGs` : `${files.length} 12MP JPEGs`;
  const repeats = opts.quick ? 2 : 3;
  const rows: BenchRow[] = [];
  const notes: string[] = [];

  // JPEG files → image embeddings.
  const processor = await tjs.AutoProcessor.from_pretrained(modelName);
  const vision = await tjs.CLIPVisionModelWithProjection.from_pretrained(modelName, { dtype: 'fp32' });
  const textModel = await tjs.CLIPTextModelWithProjection.from_pretrained(modelName, { dtype: 'fp32' });
  const modelTokenizer = await tjs.AutoTokenizer.from_pretrained(modelName);
  const clips = { native: await Clip.load(modelDir, { backend: 'native' }), onnx: await Clip.load(modelDir, { backend: 'onnx' }) };
  // What `clipkit import` runs: fast mode (shrink-on-load), precision auto (bf16 where the CPU has
  // a bf16 path); and the same in fp32, to separate the decoder's share from bf16's.
  const importLike = {
    auto: await Clip.load(modelDir, { backend: 'native', precision: 'auto', image: { mode: 'fast' } }),
    fp32: await Clip.load(modelDir, { backend: 'native', precision: 'fp32', image: { mode: 'fast' } }),
  };
  try {
    const tjsImagesName = `Transformers.js ${tjs.env.version}: RawImage + CLIPImageProcessor + vision model, ${what} → embeddings (${shape})`;
    const tjsImages = await measure(async () => {
      const images = await Promise.all(files.map((f) => tjs.RawImage.read(f)));
      const inputs = await processor(images);
      await vision(inputs);
    }, { warmup: 1, repeats });
    rows.push({ name: tjsImagesName, unit: 'images/s', value: files.length / tjsImages });
    for (const [backend, clip] of Object.entries(clips)) {
      const seconds = await measure(() => clip.encodeImages(files), { warmup: 1, repeats });
      rows.push({
        name: `clipkit ${backend} backend, exact mode, fp32: Clip.encodeImages, ${what} → embeddings (${shape})`,
        unit: 'images/s',
        value: files.length / seconds,
        baseline: tjsImagesName,
      });
    }
    for (const [precision, clip] of Object.entries(importLike)) {
      const seconds = await measure(() => clip.encodeImages(files), { warmup: 1, repeats });
      const ran = precision === 'auto' ? `precision auto (${clip.precision} here)` : 'fp32';
      rows.push({
        name: `clipkit native, fast mode, ${ran}: Clip.encodeImages, ${what} → embeddings (${shape})`,
        unit: 'images/s',
        value: files.length / seconds,
        baseline: tjsImagesName,
        headline: true,
        ...(precision === 'auto' ? { note: 'as `clipkit import` runs by default' } : {}),
      });
    }

    // Strings → text embeddings, 32 captions per call, each side with its own tokenizer on the
    // model's vocabulary and padding to the 77-token context as CLIP does.
    const texts = captions(32, 5, false);
    const tjsTextsName = `Transformers.js ${tjs.env.version}: tokenizer + text model, ${texts.length} captions → embeddings (${shape})`;
    const tjsTexts = await measure(async () => {
      const inputs = modelTokenizer(texts, { padding: 'max_length', max_length: 77, truncation: true });
      await textModel(inputs);
    }, { warmup: 1, repeats: repeats + 1 });
    rows.push({ name: tjsTextsName, unit: 'texts/s', value: texts.length / tjsTexts });
    for (const [backend, clip] of Object.entries(clips)) {
      const seconds = await measure(() => clip.encodeTexts(texts), { warmup: 1, repeats: repeats + 1 });
      rows.push({
        name: `clipkit ${backend} backend: Clip.encodeTexts, ${texts.length} captions → embeddings (${shape})`,
        unit: 'texts/s',
        value: texts.length / seconds,
        baseline: tjsTextsName,
        headline: true,
      });
    }
  } finally {
    for (const clip of [...Object.values(clips), ...Object.values(importLike)]) clip.dispose();
    await Promise.all([vision.dispose(), textModel.dispose()]);
  }

  // Tokenizers on CLIP's real vocabulary, same captions, token ids checked equal first.
  let vocabDir: string | null = null;
  try {
    vocabDir = await findVocabulary();
  } catch (err) {
    notes.push(`tokenizer rows skipped: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (vocabDir !== null) {
    const ours = await ClipTokenizer.fromPath(vocabDir);
    const theirs = await tjs.AutoTokenizer.from_pretrained(path.basename(realTokenizerDir(vocabDir)));
    const texts = captions(tiny ? 100 : opts.quick ? 1000 : 5000, 7, false);
    let differ = 0;
    let tokens = 0;
    for (const t of texts) {
      const a = theirs.encode(t);
      const b = [ours.startOfText, ...ours.encode(t), ours.endOfText];
      tokens += b.length;
      if (a.length !== b.length || a.some((id, i) => id !== b[i])) differ++;
    }
    if (differ > 0) notes.push(`Transformers.js and clipkit token ids differ on ${differ} of ${texts.length} captions`);
    const tjsName = `Transformers.js ${tjs.env.version} CLIP tokenizer, ${texts.length} captions one at a time`;
    const tjsSeconds = await measure(() => { for (const t of texts) theirs.encode(t); }, { warmup: 1, repeats: repeats + 1 });
    rows.push({ name: tjsName, unit: 'tokens/s', value: tokens / tjsSeconds });
    const ourSeconds = await measure(() => { for (const t of texts) ours.encode(t); }, { warmup: 1, repeats: repeats + 1 });
    rows.push({ name: `clipkit tokenizer, ${texts.length} captions one at a time`, unit: 'tokens/s', value: tokens / ourSeconds, baseline: tjsName, headline: true });
  }
  return { rows, notes };
}
