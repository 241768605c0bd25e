// The native backend (addon kernels composed in TypeScript) against the PyTorch reference of the
// shared tiny model, and — self-contained — against the float64 reference forward on generated
// models (F32, F16, BF16 weights; quick_gelu and gelu).
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { nativeInfo } from '@clipkit/native-cuda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNativeBackend } from '../src/backends/native/index.js';
import { UsageError } from '../src/errors.js';
import { openModelDir } from '../src/model/model-dir.js';
import { SafetensorsFile } from '../src/model/safetensors.js';
import { randomInputIds, randomPixels, writeRandomClipModel } from '../src/testing/index.js';
import { referenceEncodeImages, referenceEncodeTexts } from '../src/testing/reference-forward.js';
import type { Backend, PixelBatch } from '../src/types.js';
import { diff, expectClose } from './helpers/compare.js';
import { loadTinyExpected, logitsPerImage, repadIds, skipWithoutTiny, tinyModelDir } from './helpers/tiny-reference.js';

const CONFORMANCE = { rel: 1e-5, maxAbs: 1e-4 };
const cudaAvailable = nativeInfo().cuda.available;
if (cudaAvailable) console.warn('[native backend] the "no usable GPU" error test is skipped: this machine has a CUDA device');
const BATCH_INVARIANCE = 1e-6;

describe.skipIf(skipWithoutTiny('native backend conformance'))('native backend vs PyTorch (shared tiny model)', () => {
  // Loaded in beforeAll: describe bodies run even when skipped, and the data may be absent.
  let model: ReturnType<typeof openModelDir>;
  let dim: number;
  let exp: ReturnType<typeof loadTinyExpected>;
  let backend: Backend;
  beforeAll(async () => {
    model = openModelDir(tinyModelDir);
    dim = model.config.projectionDim;
    exp = loadTinyExpected();
    backend = await createNativeBackend(model, { batchSize: 32 });
  });
  afterAll(() => backend.dispose());

  it('reproduces image_embeds, text_embeds and logits_per_image', async () => {
    const images = await backend.encodeImages({ data: exp.pixelValues, n: exp.nImages, size: model.config.vision.imageSize });
    const texts = await backend.encodeTexts(exp.inputIds, exp.nTexts);
    expectClose(images, exp.imageEmbeds, CONFORMANCE, 'image_embeds');
    expectClose(texts, exp.textEmbeds, CONFORMANCE, 'text_embeds');
    expect(model.info.logitScale).toBeCloseTo(Math.exp(exp.logitScale), 4);
    expectClose(logitsPerImage(images, texts, dim, model.info.logitScale), exp.logitsPerImage, CONFORMANCE, 'logits_per_image');
  });

  it('gives the same text embeddings when rows are padded with EOT instead of 0', async () => {
    const eos = model.config.text.eosTokenId;
    const repadded = repadIds(exp.inputIds, exp.nTexts, exp.contextLength, eos, eos);
    expect(repadded).not.toEqual(exp.inputIds);
    expectClose(await backend.encodeTexts(repadded, exp.nTexts), exp.textEmbeds, CONFORMANCE, 'text_embeds (EOT-padded)');
  });

  it('batch size does not change any row beyond 1e-6', async () => {
    const pixels = { data: exp.pixelValues, n: exp.nImages, size: model.config.vision.imageSize };
    const whole = await backend.encodeImages(pixels);
    const wholeText = await backend.encodeTexts(exp.inputIds, exp.nTexts);
    for (const batchSize of [1, 3]) {
      const small = await createNativeBackend(model, { batchSize });
      try {
        expect(diff(await small.encodeImages(pixels), whole).maxAbs, `images, batch ${batchSize}`).toBeLessThanOrEqual(BATCH_INVARIANCE);
        expect(diff(await small.encodeTexts(exp.inputIds, exp.nTexts), wholeText).maxAbs, `texts, batch ${batchSize}`).toBeLessThanOrEqual(BATCH_INVARIANCE);
      } finally {
        small.dispose();
      }
    }
  });
});

describe('native backend vs the float64 reference forward (generated models)', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'clipkit-native-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const cases = [
    { name: 'F32 quick_gelu', dtype: 'F32', hiddenAct: 'quick_gelu', seed: 11 },
    { name: 'F16 quick_gelu', dtype: 'F16', hiddenAct: 'quick_gelu', seed: 12 },
    { name: 'BF16 quick_gelu', dtype: 'BF16', hiddenAct: 'quick_gelu', seed: 13 },
    { name: 'F32 gelu', dtype: 'F32', hiddenAct: 'gelu', seed: 14 },
    // The last layer runs specially (pooled rows only); a single layer and none at all too.
    { name: 'F32 1 vision layer, 0 text layers', dtype: 'F32', hiddenAct: 'quick_gelu', seed: 15, visionLayers: 1, textLayers: 0 },
  ] as const;

  for (const c of cases) {
    it(`${c.name}: embeddings match the reference (rel ≤ 1e-5)`, async () => {
      const { dir, config } = writeRandomClipModel(path.join(root, c.name.replace(/\W+/g, '-')), {
        seed: c.seed,
        dtype: c.dtype,
        hiddenAct: c.hiddenAct,
        // Odd sizes on purpose: 3x3 patches of 7 pixels, hidden 48 over 3 heads, projection 24.
        vision: { imageSize: 21, patchSize: 7, hidden: 48, layers: 'visionLayers' in c ? c.visionLayers : 2, heads: 3, mlp: 96 },
        text: { vocabSize: 600, hidden: 40, layers: 'textLayers' in c ? c.textLayers : 2, heads: 5, mlp: 72, contextLength: 16 },
        projectionDim: 24,
      });
      const file = SafetensorsFile.open(path.join(dir, 'model.safetensors'));
      const weights = (name: string, shape: readonly number[]) => file.getTensor(name, shape);
      const n = 5;
      const pixels = randomPixels(n, 21, c.seed);
      const ids = randomInputIds(n, { contextLength: 16, vocabSize: 600, seed: c.seed, lengths: [2, 16, 7, 9, 3] });
      const backend = await createNativeBackend(openModelDir(dir), { batchSize: 2 });
      try {
        const images = await backend.encodeImages({ data: pixels, n, size: 21 });
        const texts = await backend.encodeTexts(ids, n);
        expectClose(images, referenceEncodeImages(config, weights, pixels, n).embeds, { rel: 1e-5, maxAbs: 1e-4 }, `${c.name} image embeds`);
        expectClose(texts, referenceEncodeTexts(config, weights, ids, n).embeds, { rel: 1e-5, maxAbs: 1e-4 }, `${c.name} text embeds`);
      } finally {
        backend.dispose();
      }
    });
  }
});

describe('native backend input and device errors', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'clipkit-native-err-'));
  let backend: Backend;
  let dir: string;
  beforeAll(async () => {
    dir = writeRandomClipModel(path.join(root, 'm'), { seed: 3 }).dir;
    backend = await createNativeBackend(openModelDir(dir));
  });
  afterAll(() => {
    backend.dispose();
    rmSync(root, { recursive: true, force: true });
  });

  it('rejects pixels of the wrong size or length, naming the problem', async () => {
    await expect(backend.encodeImages({ data: new Float32Array(3 * 16 * 16), n: 1, size: 16 })).rejects.toThrow(/pixels.size is 16, this model takes 32x32/);
    await expect(backend.encodeImages({ data: new Float32Array(10), n: 1, size: 32 })).rejects.toThrow(/pixels.data has 10 values/);
    await expect(backend.encodeImages({ data: new Float64Array(3 * 32 * 32) as unknown as Float32Array, n: 1, size: 32 })).rejects.toThrow(
      /pixels.data must be a Float32Array, got Float64Array/,
    );
    await expect(backend.encodeImages(undefined as unknown as PixelBatch)).rejects.toThrow(/pixels must be a \{ data, n, size \} batch, got undefined/);
  });

  it('rejects ids outside the vocabulary and wrong lengths', async () => {
    const ids = randomInputIds(2, { contextLength: 77, vocabSize: 1000, seed: 1 });
    ids[77 + 3] = 1000;
    await expect(backend.encodeTexts(ids, 2)).rejects.toThrow(/ids\[1\]\[3\] = 1000 is outside the vocabulary/);
    await expect(backend.encodeTexts(new Int32Array(76), 1)).rejects.toBeInstanceOf(UsageError);
    await expect(backend.encodeTexts(Array.from(ids) as unknown as Int32Array, 2)).rejects.toThrow(/ids must be an Int32Array, got Array/);
  });

  it('encodes an empty batch to an empty matrix', async () => {
    expect(await backend.encodeImages({ data: new Float32Array(0), n: 0, size: 32 })).toHaveLength(0);
    expect(await backend.encodeTexts(new Int32Array(0), 0)).toHaveLength(0);
  });

  it.skipIf(cudaAvailable)("device 'cuda' without a usable GPU is a clear UsageError", async () => {
    await expect(createNativeBackend(openModelDir(dir), { device: 'cuda' })).rejects.toThrow(/device 'cuda' is not available to the native backend/);
  });

  it("reads a tower's weights on its first use only", async () => {
    const copy = path.join(root, 'lazy');
    cpSync(dir, copy, { recursive: true });
    const file = path.join(copy, 'model.safetensors');
    const b = await createNativeBackend(openModelDir(copy));
    try {
      const ids = randomInputIds(1, { contextLength: 77, vocabSize: 1000, seed: 2 });
      const before = await b.encodeTexts(ids, 1);
      // The vision weights, overwritten after the backend was created (same file size): only a
      // backend that reads them now sees NaN; the text tower, already loaded, is unaffected.
      const bytes = readFileSync(file);
      const info = SafetensorsFile.open(file).info('vision_model.encoder.layers.0.mlp.fc1.weight')!;
      const dataStart = 8 + Number(bytes.readBigUInt64LE(0));
      new Float32Array(bytes.buffer, bytes.byteOffset + dataStart + info.begin, (info.end - info.begin) / 4).fill(NaN);
      writeFileSync(file, bytes);
      const images = await b.encodeImages({ data: randomPixels(1, 32, 2), n: 1, size: 32 });
      expect(images.every(Number.isNaN)).toBe(true);
      expect(Array.from(await b.encodeTexts(ids, 1))).toEqual(Array.from(before));
    } finally {
      b.dispose();
    }
  });

  it('refuses use after dispose', async () => {
    const b = await createNativeBackend(openModelDir(dir));
    b.dispose();
    await expect(b.encodeTexts(new Int32Array(77), 1)).rejects.toThrow(/disposed/);
  });
});
