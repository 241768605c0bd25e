// The Clip API on a generated model, through both backends: text/image embeddings, L2
// normalisation, and zero-shot classification checked against a computation from the embeddings.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Clip } from '../src/clip.js';
import { ImageDecodeError, ModelFormatError, UsageError } from '../src/errors.js';
import { ImagePreprocessor } from '../src/image/preprocess.js';
import { IMAGENET80_TEMPLATES } from '../src/templates.js';
import { randomPixels, writeRandomClipModel } from '../src/testing/index.js';
import type { PixelBatch } from '../src/types.js';
import { expectClose } from './helpers/compare.js';

const root = mkdtempSync(path.join(tmpdir(), 'clipkit-clip-'));
const { dir, config } = writeRandomClipModel(path.join(root, 'model'), { seed: 5, onnx: true });
afterAll(() => rmSync(root, { recursive: true, force: true }));

const dim = config.projectionDim;
const pixels: PixelBatch = { data: randomPixels(3, config.vision.imageSize, 9), n: 3, size: config.vision.imageSize };
const labels = ['cat', 'dog', 'a red car'];

/** Three small generated photos of different sizes (JPEG, PNG with alpha, grey PNG). */
async function writeImages(): Promise<string[]> {
  const files = ['a.jpg', 'b.png', 'c.png'].map((f) => path.join(root, f));
  const noise = (w: number, h: number, c: number, seed: number) => Buffer.from(Array.from({ length: w * h * c }, (_, i) => (i * 31 + seed * 97 + ((i / c / w) | 0) * 3) & 255));
  await sharp(noise(50, 40, 3, 1), { raw: { width: 50, height: 40, channels: 3 } }).jpeg().toFile(files[0]!);
  await sharp(noise(33, 70, 4, 2), { raw: { width: 33, height: 70, channels: 4 } }).png().toFile(files[1]!);
  await sharp(noise(32, 32, 1, 3), { raw: { width: 32, height: 32, channels: 1 } }).png().toFile(files[2]!);
  return files;
}

function row(m: Float32Array, i: number): Float32Array {
  return m.subarray(i * dim, (i + 1) * dim);
}

function unit(v: ArrayLike<number>): number[] {
  const norm = Math.hypot(...Array.from(v));
  return Array.from(v, (x) => x / norm);
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] as number) * (b[i] as number);
  return s;
}

describe.each(['onnx', 'native'] as const)('Clip with the %s backend', (backend) => {
  let clip: Clip;
  beforeAll(async () => {
    clip = await Clip.load(dir, { backend, batchSize: 2 });
  });
  afterAll(() => clip.dispose());

  it('describes the model and the runtime', () => {
    expect(clip.info.projectionDim).toBe(dim);
    expect(clip.info.imageSize).toBe(config.vision.imageSize);
    expect(clip.runtime).toEqual({ backend, device: 'cpu' });
  });

  it('encodes texts and images to [n, projectionDim]; normalize gives unit rows in the same direction', async () => {
    const texts = await clip.encodeTexts(labels);
    const textsUnit = await clip.encodeTexts(labels, { normalize: true });
    const images = await clip.encodeImages(pixels);
    const imagesUnit = await clip.encodeImages(pixels, { normalize: true });
    expect(texts).toHaveLength(labels.length * dim);
    expect(images).toHaveLength(pixels.n * dim);
    for (let i = 0; i < labels.length; i++) {
      expect(Math.hypot(...row(textsUnit, i))).toBeCloseTo(1, 5);
      expectClose(row(textsUnit, i), unit(row(texts, i)), { rel: 1e-6, maxAbs: 1e-6 }, `text ${i}`);
    }
    for (let i = 0; i < pixels.n; i++) expectClose(row(imagesUnit, i), unit(row(images, i)), { rel: 1e-6, maxAbs: 1e-6 }, `image ${i}`);
    // Different texts really give different embeddings.
    expect(dot(row(textsUnit, 0), row(textsUnit, 1))).toBeLessThan(0.999);
  });

  it('encodes image files in batches through the model\'s preprocessing; a broken file is a typed error naming it', async () => {
    const files = await writeImages();
    const direct = await clip.encodeImages(files);
    const pixels = await ImagePreprocessor.fromModelDir(dir).preprocessOrThrow(files);
    expectClose(direct, await clip.encodeImages(pixels), { rel: 1e-6, maxAbs: 1e-6 }, 'paths vs preprocessed pixels');
    const broken = path.join(root, 'broken.jpg');
    writeFileSync(broken, Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 1, 2]));
    const err = await clip.encodeImages([files[0]!, broken]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageDecodeError);
    expect((err as ImageDecodeError).path).toContain('broken.jpg');
  });

  it('classify: softmax over logitScale·cos, sorted, matching a manual computation', async () => {
    const results = await clip.classify(pixels, labels);
    const images = await clip.encodeImages(pixels, { normalize: true });
    const prompts = await clip.encodeTexts(labels.map((l) => `a photo of a ${l}.`), { normalize: true });
    expect(results).toHaveLength(pixels.n);
    results.forEach((scores, i) => {
      expect(scores.map((s) => s.label).sort()).toEqual([...labels].sort());
      expect(scores.reduce((a, s) => a + s.probability, 0)).toBeCloseTo(1, 10);
      for (let k = 1; k < scores.length; k++) expect(scores[k - 1]!.probability).toBeGreaterThanOrEqual(scores[k]!.probability);
      const logits = labels.map((_, l) => clip.info.logitScale * dot(row(images, i), row(prompts, l)));
      const z = logits.map((x) => Math.exp(x - Math.max(...logits)));
      const total = z.reduce((a, b) => a + b, 0);
      for (const s of scores) {
        const l = labels.indexOf(s.label);
        expect(s.logit).toBeCloseTo(logits[l]!, 4);
        expect(s.probability).toBeCloseTo(z[l]! / total, 6);
      }
    });
  });

  it('imagenet80: each label is the re-normalised mean of its 80 normalised prompt embeddings', async () => {
    const [scores] = await clip.classify({ ...pixels, n: 1, data: pixels.data.subarray(0, pixels.data.length / 3) }, ['cat', 'dog'], { templates: 'imagenet80' });
    const image = await clip.encodeImages({ ...pixels, n: 1, data: pixels.data.subarray(0, pixels.data.length / 3) }, { normalize: true });
    for (const label of ['cat', 'dog']) {
      const prompts = await clip.encodeTexts(IMAGENET80_TEMPLATES.map((t) => t.replace('{}', label)), { normalize: true });
      const mean = new Float64Array(dim);
      for (let t = 0; t < 80; t++) for (let j = 0; j < dim; j++) mean[j]! += prompts[t * dim + j]!;
      const expected = clip.info.logitScale * dot(image, unit(mean));
      expect(scores!.find((s) => s.label === label)!.logit).toBeCloseTo(expected, 4);
    }
  });

  it('custom templates replace the default prompt', async () => {
    const [simple] = await clip.classify(pixels, labels);
    const [custom] = await clip.classify(pixels, labels, { templates: ['{}', 'an image of {}'] });
    expect(custom!.map((s) => s.logit)).not.toEqual(simple!.map((s) => s.logit));
    expect(custom!.reduce((a, s) => a + s.probability, 0)).toBeCloseTo(1, 10);
  });

  it('refuses a PixelBatch holding NaN or ±Inf, naming the first one (not NaN embeddings)', async () => {
    const s = config.vision.imageSize;
    const bad = new Float32Array(pixels.data);
    bad[2 * 3 * s * s + 1 * s * s + 4 * s + 7] = NaN;
    const err = await clip.encodeImages({ ...pixels, data: bad }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toBe('pixels[2][1][4][7] is NaN: pixel values must be finite');
    bad[0] = Infinity;
    await expect(clip.classify({ ...pixels, data: bad }, labels)).rejects.toThrow(/^pixels\[0\]\[0\]\[0\]\[0\] is Infinity: pixel values must be finite$/);
  });

  it('rejects empty or duplicate labels and templates without {}', async () => {
    await expect(clip.classify(pixels, [])).rejects.toThrow(UsageError);
    await expect(clip.classify(pixels, ['cat', 'cat'])).rejects.toThrow(/"cat" appears twice/);
    await expect(clip.classify(pixels, ['cat', ' '])).rejects.toThrow(/labels\[1\] is empty/);
    await expect(clip.classify(pixels, ['cat'], { templates: ['no slot'] })).rejects.toThrow(/no \{\} placeholder/);
  });
});

describe('Clip lifecycle', () => {
  it('refuses work after dispose', async () => {
    const clip = await Clip.load(dir, { backend: 'onnx' });
    clip.dispose();
    await expect(clip.encodeTexts(['x'])).rejects.toThrow(/disposed/);
    await expect(clip.warm()).rejects.toThrow(/disposed/);
  });
});

describe('Clip.warm', () => {
  it('reads the native weights now: with the weights file gone, a warmed instance still encodes (alike), a cold one cannot', async () => {
    const modelDir = path.join(root, 'warm-model');
    writeRandomClipModel(modelDir, { seed: 5 });
    const reference = await Clip.load(dir, { backend: 'native' }); // the same seed's weights
    const cold = await Clip.load(modelDir, { backend: 'native' });
    const warmed = await Clip.load(modelDir, { backend: 'native' });
    try {
      await warmed.warm();
      rmSync(path.join(modelDir, 'model.safetensors'));
      expect(await warmed.encodeImages(pixels)).toEqual(await reference.encodeImages(pixels));
      expect(await warmed.encodeTexts(labels)).toEqual(await reference.encodeTexts(labels));
      await expect(cold.encodeImages(pixels)).rejects.toThrow(ModelFormatError);
    } finally {
      for (const c of [reference, cold, warmed]) c.dispose();
    }
  });
});

describe('Clip tokenizer files', () => {
  it('refuses a model whose merges.txt has no merges, naming the file (not byte-only tokens)', async () => {
    const { dir: broken } = writeRandomClipModel(path.join(root, 'no-merges'), { seed: 5 });
    writeFileSync(path.join(broken, 'merges.txt'), '#version: 0.2\n');
    const clip = await Clip.load(broken, { backend: 'native' });
    try {
      const err = await clip.encodeTexts(['a dog']).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ModelFormatError);
      expect((err as Error).message).toContain(`${path.join(broken, 'merges.txt')}: has no merges`);
    } finally {
      clip.dispose();
    }
  });
});
