// Fast mode's JPEG path in the addon (preprocessJpeg): which decoder and scale each kind of JPEG
// takes, EXIF orientation, closeness to exact mode, concurrency, and that everything it declines
// (CMYK, damaged files) still comes out of sharp exactly as in exact mode.
import * as native from '@clipkit/native-cuda';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { defaultImageConfig, ImageDecodeError, ImagePreprocessor } from '../src/index.js';

const S = 224;
const SLOT = 3 * S * S;
const libjpeg = native.nativeInfo().jpeg.libjpeg;

/** Photo-like (band-limited) RGB with an asymmetric layout, so a wrong orientation shows. */
function scene(width: number, height: number): Buffer {
  const px = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = 3 * (y * width + x);
      px[i] = 128 + 100 * Math.sin(x / 90) * Math.cos(y / 130);
      px[i + 1] = (x * 255) / width;
      px[i + 2] = y < height / 3 ? 200 : 128 + 90 * Math.sin((x + 2 * y) / 150);
    }
  }
  return px;
}

async function jpeg(width: number, height: number, opts: { orientation?: number; progressive?: boolean; cmyk?: boolean } = {}): Promise<Buffer> {
  let img = sharp(scene(width, height), { raw: { width, height, channels: 3 } });
  if (opts.cmyk) img = img.toColourspace('cmyk');
  img = img.jpeg({ quality: 90, progressive: opts.progressive ?? false });
  if (opts.orientation !== undefined) img = img.withMetadata({ orientation: opts.orientation });
  return img.toBuffer();
}

function meanAbs(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs((a[i] as number) - (b[i] as number));
  return sum / a.length;
}

async function both(bytes: Uint8Array, orientation: 'exif' | 'ignore' = 'exif'): Promise<{ fast: Float32Array; exact: Float32Array }> {
  const fast = (await new ImagePreprocessor(defaultImageConfig(S), { mode: 'fast', orientation }).preprocessOrThrow([bytes])).data.slice();
  const exact = (await new ImagePreprocessor(defaultImageConfig(S), { mode: 'exact', orientation }).preprocessOrThrow([bytes])).data.slice();
  return { fast, exact };
}

describe('fast mode JPEG shrink-on-load in the addon', () => {
  it('a large baseline JPEG takes the DC-only 1/8 path and stays close to exact mode', async () => {
    const bytes = await jpeg(2400, 1800);
    const r = await native.preprocessJpegAsync(bytes, new Float32Array(SLOT));
    expect(r).toMatchObject({ decoded: true, path: 'dc', scale: 8, width: 2400, height: 1800 });
    expect(r.decoded && r.preprocessSeconds).toBeGreaterThan(0);
    const { fast, exact } = await both(bytes);
    const d = meanAbs(fast, exact);
    console.log(`2400x1800 baseline JPEG, DC-only 1/8: mean abs to exact ${d.toExponential(2)}`);
    expect(d).toBeGreaterThan(0);
    expect(d).toBeLessThanOrEqual(0.02);
  });

  for (const orientation of [3, 6, 8]) {
    it(`EXIF orientation ${orientation} is applied (and ignored when asked)`, async () => {
      const bytes = await jpeg(2400, 1800, { orientation });
      const r = await native.preprocessJpegAsync(bytes, new Float32Array(SLOT));
      const swapped = orientation >= 5;
      expect(r).toMatchObject({ decoded: true, path: 'dc', width: swapped ? 1800 : 2400, height: swapped ? 2400 : 1800 });
      const oriented = await both(bytes, 'exif');
      const stored = await both(bytes, 'ignore');
      const right = meanAbs(oriented.fast, oriented.exact);
      const wrong = meanAbs(oriented.fast, stored.exact);
      console.log(`orientation ${orientation}: mean abs to exact ${right.toExponential(2)}, to the unrotated image ${wrong.toExponential(2)}`);
      expect(right).toBeLessThanOrEqual(0.02);
      expect(wrong).toBeGreaterThan(10 * right);
      expect(meanAbs(stored.fast, stored.exact)).toBeLessThanOrEqual(0.02);
    });
  }

  it.runIf(libjpeg)('progressive files and the 1/2 and 1/4 scales go to libjpeg', async () => {
    const progressive = await jpeg(2400, 1800, { progressive: true });
    expect(await native.preprocessJpegAsync(progressive, new Float32Array(SLOT))).toMatchObject({ decoded: true, path: 'libjpeg', scale: 8 });
    const half = await jpeg(1000, 800); // 800/2 = 400 >= 224 > 800/4
    expect(await native.preprocessJpegAsync(half, new Float32Array(SLOT))).toMatchObject({ decoded: true, path: 'libjpeg', scale: 2 });
    const quarter = await jpeg(1200, 900); // 900/4 = 225
    expect(await native.preprocessJpegAsync(quarter, new Float32Array(SLOT))).toMatchObject({ decoded: true, path: 'libjpeg', scale: 4 });
    for (const bytes of [progressive, half, quarter]) {
      const { fast, exact } = await both(bytes);
      expect(meanAbs(fast, exact)).toBeLessThanOrEqual(0.02);
    }
  });
  it.skipIf(libjpeg)('progressive and 1/2-1/4 scale JPEGs (skipped: this addon was built without libjpeg)', () => {
    console.log('skipped: the addon was built without libjpeg (Debian: libjpeg62-turbo-dev), so those files go to sharp');
  });

  it('a small JPEG is not touched by the addon path: fast equals exact bit for bit', async () => {
    const bytes = await jpeg(300, 200);
    const { fast, exact } = await both(bytes);
    expect(Array.from(fast)).toEqual(Array.from(exact));
  });

  it('CMYK and damaged JPEGs are declined and decoded (or refused) by sharp as in exact mode', async () => {
    const cmyk = await jpeg(2400, 1800, { cmyk: true });
    const declined = await native.preprocessJpegAsync(cmyk, new Float32Array(SLOT));
    expect(declined.decoded).toBe(false);
    const { fast } = await both(cmyk);
    expect(fast.some((v) => v !== 0)).toBe(true);

    const whole = await jpeg(2400, 1800);
    const truncated = whole.subarray(0, Math.floor(whole.length * 0.6));
    const r = await native.preprocessJpegAsync(truncated, new Float32Array(SLOT));
    expect(r).toEqual({ decoded: false, reason: 'truncated data' });
    const inputs = [truncated, whole];
    const fastRun = await new ImagePreprocessor(defaultImageConfig(S), { mode: 'fast' }).preprocess(inputs);
    const exactRun = await new ImagePreprocessor(defaultImageConfig(S), { mode: 'exact' }).preprocess(inputs);
    expect(fastRun.errors[0]).toBeInstanceOf(ImageDecodeError);
    expect(fastRun.errors[0]?.message).toBe(exactRun.errors[0]?.message);
    expect(fastRun.errors[1]).toBeNull();
  });

  it('images decoded concurrently come out as decoded one at a time', async () => {
    const files = await Promise.all([0, 3, 6, 8, 0, 6].map((o, i) => jpeg(1800 + 8 * i, 1800, o === 0 ? {} : { orientation: o })));
    const together = (await new ImagePreprocessor(defaultImageConfig(S), { mode: 'fast', concurrency: 6 }).preprocessOrThrow(files)).data.slice();
    const single = new ImagePreprocessor(defaultImageConfig(S), { mode: 'fast', concurrency: 1 });
    for (const [i, f] of files.entries()) {
      const alone = (await single.preprocessOrThrow([f])).data;
      expect(Array.from(together.subarray(i * SLOT, (i + 1) * SLOT))).toEqual(Array.from(alone));
    }
  });
});
