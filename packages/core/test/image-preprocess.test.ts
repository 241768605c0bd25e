// ImagePreprocessor on generated images: batches with failing slots, buffer reuse, the options
// (alpha, crop rounding, RGB-first, fast) and configuration from a model directory.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import * as addon from '@clipkit/native-cuda';
import type { NativeKernels, RawImage } from '@clipkit/native-cuda';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { ImageDecodeError, UsageError } from '../src/errors.js';
import { decodeImage } from '../src/image/decode.js';
import { defaultImageConfig, ImagePreprocessor } from '../src/image/preprocess.js';
import { openModelDir } from '../src/model/model-dir.js';
import { writeRandomClipModel } from '../src/testing/random-model.js';
import { gray16Png } from './helpers/png16.js';
import { scratchDir } from './helpers/tmp-dir.js';

const kernels: NativeKernels = addon;
const tmp = scratchDir('image-preprocess');
const MEAN = [0.48145466, 0.4578275, 0.40821073];
const STD = [0.26862954, 0.26130258, 0.27577711];
// torchvision's float32 arithmetic: each operation rounded to float32.
const normalised = (v: number, c: number) =>
  Math.fround(Math.fround(Math.fround(v / 255) - Math.fround(MEAN[c] as number)) / Math.fround(STD[c] as number));

/** Deterministic textured RGB pixels. */
function texture(w: number, h: number, seed: number): RawImage {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) data[(y * w + x) * 3 + c] = (x * (3 + c) + y * 7 + seed * 31 + ((x * y) % 17)) % 256;
    }
  }
  return { data, width: w, height: h, channels: 3 };
}

const S = 32;
const SLOT = 3 * S * S;

describe('ImagePreprocessor', () => {
  let dir: string;
  let pngPath: string;

  beforeAll(async () => {
    dir = tmp();
    const t = texture(90, 60, 1);
    pngPath = path.join(dir, 'texture.png');
    await sharp(t.data, { raw: { width: 90, height: 60, channels: 3 } }).png().toFile(pngPath);
  });

  it('fills slot i from input i and reports a failing input without throwing', async () => {
    const pre = new ImagePreprocessor(defaultImageConfig(S));
    const raw = texture(40, 50, 2);
    const broken = new Uint8Array(Buffer.from('not an image at all'));
    const { pixels, errors } = await pre.preprocess([pngPath, broken, raw]);
    expect(pixels.n).toBe(3);
    expect(pixels.size).toBe(S);
    expect(errors[0]).toBeNull();
    expect(errors[1]).toBeInstanceOf(ImageDecodeError);
    expect(errors[2]).toBeNull();
    expect(pixels.data.subarray(SLOT, 2 * SLOT).every((v) => v === 0)).toBe(true);

    // Each good slot equals the kernel run on that image alone.
    const one = new Float32Array(SLOT);
    kernels.preprocess([await decodeImage(pngPath)], one, { resizeShortest: S });
    expect(Array.from(pixels.data.subarray(0, SLOT))).toEqual(Array.from(one));
    kernels.preprocess([raw], one, { resizeShortest: S });
    expect(Array.from(pixels.data.subarray(2 * SLOT, 3 * SLOT))).toEqual(Array.from(one));
  });

  it('preprocessOrThrow throws the first typed error', async () => {
    const pre = new ImagePreprocessor(defaultImageConfig(S));
    const err = await pre.preprocessOrThrow([pngPath, path.join(dir, 'nope.jpg')]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageDecodeError);
    expect((err as Error).message).toContain('nope.jpg');
  });

  it('reuses its batch buffers in turn, or writes into a caller-owned one', async () => {
    const pre = new ImagePreprocessor(defaultImageConfig(S), { buffers: 2 });
    const a = (await pre.preprocess([pngPath])).pixels.data;
    const b = (await pre.preprocess([pngPath])).pixels.data;
    const c = (await pre.preprocess([pngPath])).pixels.data;
    expect(a.buffer).not.toBe(b.buffer);
    expect(c.buffer).toBe(a.buffer);
    const mine = new Float32Array(2 * SLOT).fill(7);
    const { pixels } = await pre.preprocess([pngPath], mine);
    expect(pixels.data.buffer).toBe(mine.buffer);
    expect(Array.from(mine.subarray(0, SLOT))).toEqual(Array.from(a.subarray(0, SLOT)));
    expect(mine[SLOT]).toBe(7); // slots past n are left alone
  });

  it("alpha: 'reference' drops it (hidden colour becomes black), 'white'/'black' composite", async () => {
    // Fully transparent magenta: premultiplied resampling erases the hidden colour.
    const rgba: RawImage = { data: new Uint8Array(50 * 40 * 4).map((_, i) => (i % 4 === 1 || i % 4 === 3 ? 0 : 255)), width: 50, height: 40, channels: 4 };
    const run = async (alpha: 'reference' | 'white' | 'black', rgbFirst = false) =>
      (await new ImagePreprocessor(defaultImageConfig(S), { alpha, rgbFirst }).preprocessOrThrow([rgba])).data;
    const ref = await run('reference');
    const white = await run('white');
    const black = await run('black');
    for (let c = 0; c < 3; c++) {
      expect(ref[c * S * S]).toBe(normalised(0, c));
      expect(white[c * S * S]).toBe(normalised(255, c));
      expect(black[c * S * S]).toBe(normalised(0, c));
    }
    // Hugging Face's order converts to RGB first: the magenta survives.
    const hf = await run('reference', true);
    expect([hf[0], hf[S * S], hf[2 * S * S]]).toEqual([normalised(255, 0), normalised(0, 1), normalised(255, 2)]);
  });

  it("crop 'round' (half to even) and 'floor' differ by one column when (n - crop)/2 ends in .5", async () => {
    // 99x32: (99-32)/2 = 33.5 -> round gives 34, floor 33. No resize (shorter side is 32 already).
    const img = texture(99, 32, 3);
    const round = (await new ImagePreprocessor(defaultImageConfig(S), { crop: 'round' }).preprocessOrThrow([img])).data;
    const floor = (await new ImagePreprocessor(defaultImageConfig(S), { crop: 'floor' }).preprocessOrThrow([img])).data;
    for (let y = 0; y < S; y++) {
      expect(round[y * S]).toBe(normalised(img.data[(y * 99 + 34) * 3] as number, 0));
      expect(floor[y * S]).toBe(normalised(img.data[(y * 99 + 33) * 3] as number, 0));
    }
  });

  it('mode fast stays close to exact on a large JPEG (shrink-on-load) and equals it on a small one', async () => {
    // Photo-like (band-limited) content: different antialiasing filters agree on it.
    const big: RawImage = { data: new Uint8Array(1600 * 1400 * 3), width: 1600, height: 1400, channels: 3 };
    for (let i = 0; i < 1600 * 1400; i++) {
      const x = i % 1600;
      const y = Math.floor(i / 1600);
      big.data[3 * i] = 128 + 100 * Math.sin(x / 40) * Math.cos(y / 55);
      big.data[3 * i + 1] = (x * 255) / 1600;
      big.data[3 * i + 2] = 128 + 90 * Math.sin((x + y) / 70);
    }
    const jpeg = await sharp(big.data, { raw: { width: 1600, height: 1400, channels: 3 } }).jpeg({ quality: 92 }).toBuffer();
    const small = await sharp(big.data, { raw: { width: 1600, height: 1400, channels: 3 } }).resize(300).jpeg().toBuffer();
    const exact = (await new ImagePreprocessor(defaultImageConfig(224)).preprocessOrThrow([jpeg, small])).data;
    const fast = (await new ImagePreprocessor(defaultImageConfig(224), { mode: 'fast' }).preprocessOrThrow([jpeg, small])).data;
    const slot = 3 * 224 * 224;
    let sum = 0;
    for (let i = 0; i < slot; i++) sum += Math.abs((exact[i] as number) - (fast[i] as number));
    const mean = sum / slot;
    console.log(`fast vs exact, 1600x1400 JPEG: mean abs ${mean.toExponential(2)}`);
    expect(mean).toBeGreaterThan(0); // the shrink really happened
    expect(mean).toBeLessThanOrEqual(0.02);
    expect(Array.from(fast.subarray(slot, 2 * slot))).toEqual(Array.from(exact.subarray(slot, 2 * slot)));
  });

  it("16-bit gray is resized as Pillow's mode 'I' (int32) and clamped after, not before", async () => {
    // A hard step 0 -> 65535: resampled in int32 the transition overshoots far past 255 on one
    // side and below 0 on the other, so after clamping every pixel is 0 or 255. Clamping first
    // (8-bit resampling of 0 -> 255) would leave intermediate greys at the edge.
    const w = 300;
    const h = 200;
    const step = new Uint16Array(w * h).map((_, i) => (i % w < 150 ? 0 : 65535));
    const pixels = await new ImagePreprocessor(defaultImageConfig(S)).preprocessOrThrow([gray16Png(step, w, h)]);
    const levels = new Set(Array.from(pixels.data.subarray(0, S * S)));
    expect(levels).toEqual(new Set([normalised(0, 0), normalised(255, 0)]));
    const flat = new Uint16Array(w * h).fill(100);
    const grey = await new ImagePreprocessor(defaultImageConfig(S)).preprocessOrThrow([gray16Png(flat, w, h)]);
    expect(grey.data[0]).toBe(normalised(100, 0));
  });

  it("reads size, mean and std from a model directory's preprocessor_config.json", () => {
    const modelDir = tmp();
    writeRandomClipModel(modelDir, { seed: 3 });
    const imageSize = openModelDir(modelDir).config.vision.imageSize;
    const custom = {
      size: { shortest_edge: imageSize + 8 },
      crop_size: { height: imageSize, width: imageSize },
      image_mean: [0.5, 0.25, 0.125],
      image_std: [0.2, 0.3, 0.4],
    };
    writeFileSync(path.join(modelDir, 'preprocessor_config.json'), JSON.stringify(custom));
    const pre = ImagePreprocessor.fromModelDir(modelDir);
    expect(pre.size).toBe(imageSize);
    expect(pre.config).toMatchObject({ resizeShortest: imageSize + 8, cropSize: imageSize, mean: [0.5, 0.25, 0.125], std: [0.2, 0.3, 0.4] });
  });

  it('rejects bad options with a UsageError naming them', () => {
    expect(() => new ImagePreprocessor(defaultImageConfig(S), { mode: 'quick' as 'fast' })).toThrow(UsageError);
    expect(() => new ImagePreprocessor(defaultImageConfig(S), { crop: 'ceil' as 'floor' })).toThrow(/crop must be one of round, floor/);
    expect(() => new ImagePreprocessor(defaultImageConfig(S), { concurrency: 0 })).toThrow(/concurrency/);
    expect(() => new ImagePreprocessor({ ...defaultImageConfig(S), cropSize: 0 })).toThrow(UsageError);
  });
});
