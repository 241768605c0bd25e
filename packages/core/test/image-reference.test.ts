// Conformance of the image pipeline with OpenAI CLIP's PIL transform (Pillow 9.4, torchvision
// 0.14), using ../shared/reference/preprocess: per-image float32 tensors, uint8 crops, the
// EXIF-transposed and Hugging Face variants, and the broken files. Skipped, saying why, when the
// reference folder is absent.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as addon from '@clipkit/native-cuda';
import type { NativeKernels } from '@clipkit/native-cuda';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { ImageDecodeError } from '../src/errors.js';
import { decodeImage } from '../src/image/decode.js';
import { defaultImageConfig, ImagePreprocessor, type ImagePreprocessorOptions } from '../src/image/preprocess.js';
import { readNpy } from '../src/util/npy.js';
import { referenceRoot } from './helpers/tiny-reference.js';

const kernels: NativeKernels = addon;
const root = path.join(referenceRoot, 'preprocess');
const manifestPath = path.join(root, 'manifest.json');
const available = existsSync(manifestPath);
if (!available) console.warn(`[image-reference] skipped: reference data not found at ${manifestPath} (set CLIPKIT_REFERENCE)`);

/** One uint8 level after normalisation is 1/255/std ≈ 0.0146; the bound. */
const ONE_LEVEL = 0.0147;
const BIT_EXACT = 1e-6;
const SIZE = 224;
const SLOT = 3 * SIZE * SIZE;

interface ManifestImage {
  file: string;
  valid: boolean;
  mode?: string;
  reference_npy?: string | null;
  exif_transposed_npy?: string;
  hf_style_npy?: string;
  reference_crop_png?: string;
}

const images: ManifestImage[] = available ? (JSON.parse(readFileSync(manifestPath, 'utf8')) as { images: ManifestImage[] }).images : [];
const valid = images.filter((i) => i.valid);
const broken = images.filter((i) => !i.valid);
const at = (rel: string) => path.join(root, rel);

interface Figures {
  maxAbs: number;
  meanAbs: number;
}

function compare(got: Float32Array, expected: Float32Array): Figures {
  expect(got.length).toBe(expected.length);
  let maxAbs = 0;
  let sum = 0;
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs((got[i] as number) - (expected[i] as number));
    sum += d;
    if (!(d <= maxAbs)) maxAbs = d; // NaN sticks
  }
  return { maxAbs, meanAbs: sum / expected.length };
}

async function preprocessAll(files: string[], opts: ImagePreprocessorOptions) {
  const pre = new ImagePreprocessor(defaultImageConfig(SIZE), { orientation: 'ignore', mode: 'exact', ...opts });
  return pre.preprocess(files.map(at), new Float32Array(files.length * SLOT));
}

function table(title: string, rows: Array<[string, Figures]>): void {
  const lines = rows.map(
    ([file, f]) =>
      `  ${file.padEnd(42)} max ${f.maxAbs.toExponential(2).padStart(9)}  mean ${f.meanAbs.toExponential(2).padStart(9)}  ${f.maxAbs <= BIT_EXACT ? 'bit-exact' : ''}`,
  );
  console.log(`${title}\n${lines.join('\n')}`);
}

describe.skipIf(!available)('image pipeline vs the PIL reference', () => {
  const exact = new Map<string, Float32Array>();

  beforeAll(async () => {
    const { pixels, errors } = await preprocessAll(valid.map((i) => i.file), {});
    valid.forEach((im, i) => {
      expect(errors[i], `${im.file}: ${errors[i]?.message}`).toBeNull();
      exact.set(im.file, pixels.data.slice(i * SLOT, (i + 1) * SLOT));
    });
  });

  it('orientation ignore, mode exact: every image within one level, ≥ 80% bit-exact', () => {
    const rows: Array<[string, Figures]> = valid.map((im) => [
      im.file,
      compare(exact.get(im.file) as Float32Array, readNpy(at(im.reference_npy as string)).data as Float32Array),
    ]);
    table(`exact vs expected/<file>.npy (${rows.length} images)`, rows);
    for (const [file, f] of rows) expect(f.maxAbs, file).toBeLessThanOrEqual(ONE_LEVEL);
    const bitExact = rows.filter(([, f]) => f.maxAbs <= BIT_EXACT).length;
    console.log(`  bit-exact: ${bitExact}/${rows.length}`);
    expect(bitExact / rows.length).toBeGreaterThanOrEqual(0.8);
  });

  it('orientation exif matches .exif_transposed.npy', async () => {
    const cases = valid.filter((i) => i.exif_transposed_npy !== undefined);
    expect(cases.length).toBeGreaterThan(0);
    const { pixels, errors } = await preprocessAll(cases.map((i) => i.file), { orientation: 'exif' });
    const rows: Array<[string, Figures]> = cases.map((im, i) => {
      expect(errors[i]).toBeNull();
      return [im.file, compare(pixels.data.subarray(i * SLOT, (i + 1) * SLOT), readNpy(at(im.exif_transposed_npy as string)).data as Float32Array)];
    });
    table('exif vs .exif_transposed.npy', rows);
    for (const [file, f] of rows) expect(f.maxAbs, file).toBeLessThanOrEqual(ONE_LEVEL);
    // Rotation must actually change these pixels: the upright and stored views differ.
    const stored = exact.get(cases[0]?.file as string) as Float32Array;
    expect(compare(pixels.data.subarray(0, SLOT), stored).maxAbs).toBeGreaterThan(0.5);
  });

  it('crop floor + RGB first matches the Hugging Face variant (.hf.npy) where present', async () => {
    const cases = valid.filter((i) => i.hf_style_npy !== undefined);
    expect(cases.length).toBeGreaterThan(0);
    const { pixels, errors } = await preprocessAll(cases.map((i) => i.file), { crop: 'floor', rgbFirst: true });
    const rows: Array<[string, Figures]> = cases.map((im, i) => {
      expect(errors[i]).toBeNull();
      return [im.file, compare(pixels.data.subarray(i * SLOT, (i + 1) * SLOT), readNpy(at(im.hf_style_npy as string)).data as Float32Array)];
    });
    table('crop floor + rgb-first vs .hf.npy', rows);
    for (const [file, f] of rows) expect(f.maxAbs, file).toBeLessThanOrEqual(ONE_LEVEL);
  });

  it('the kernel crop equals expected/<file>.crop.png for every RGB or L image, fed the same decoded pixels', async () => {
    const cases = valid.filter((i) => i.mode === 'RGB' || i.mode === 'L');
    expect(cases.length).toBeGreaterThanOrEqual(10);
    for (const im of cases) {
      const decoded = await decodeImage(at(im.file), { orientation: 'ignore' });
      const crop = kernels.preprocessCrop(decoded, { resizeShortest: SIZE });
      // The crop PNGs carry the source's ICC profile (Pillow copies it): read raw values.
      const expected = await sharp(at(im.reference_crop_png as string), { ignoreIcc: true }).toColourspace('srgb').raw().toBuffer();
      let differing = 0;
      for (let k = 0; k < expected.length; k++) if (crop[k] !== expected[k]) differing++;
      expect(crop.length, im.file).toBe(expected.length);
      expect(differing, `${im.file}: ${differing} bytes differ`).toBe(0);
    }
  });

  it('broken files give typed errors naming the file and the reason', async () => {
    expect(broken.length).toBeGreaterThan(0);
    const { errors } = await preprocessAll(broken.map((i) => i.file), {});
    broken.forEach((im, i) => {
      const err = errors[i];
      expect(err, im.file).toBeInstanceOf(ImageDecodeError);
      expect(err?.path).toBe(at(im.file));
      expect(err?.message).toContain(im.file.split('/').pop() as string);
      console.log(`  ${im.file}: ${err?.message}`);
    });
  });

  it('mode fast: mean abs difference to exact per image, median ≤ 0.02', async () => {
    const { pixels, errors } = await preprocessAll(valid.map((i) => i.file), { mode: 'fast' });
    const rows: Array<[string, Figures]> = valid.map((im, i) => {
      expect(errors[i]).toBeNull();
      return [im.file, compare(pixels.data.subarray(i * SLOT, (i + 1) * SLOT), exact.get(im.file) as Float32Array)];
    });
    table('fast vs exact', rows);
    const means = rows.map(([, f]) => f.meanAbs).sort((a, b) => a - b);
    const median = means[Math.floor(means.length / 2)] as number;
    console.log(`  median mean-abs: ${median.toExponential(2)}`);
    expect(median).toBeLessThanOrEqual(0.02);
  });
});
