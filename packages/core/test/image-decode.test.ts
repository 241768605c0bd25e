// decodeImage on images generated here with sharp: formats from content, channel layouts,
// EXIF orientation, limits, and every failure as a typed error naming the input.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import type { RawImage } from '@clipkit/native-cuda';
import { beforeAll, describe, expect, it } from 'vitest';
import { ImageDecodeError, ImageTooLargeError, UnsupportedImageError, UsageError } from '../src/errors.js';
import { decodeImage } from '../src/image/decode.js';
import { gray16Png } from './helpers/png16.js';
import { scratchDir } from './helpers/tmp-dir.js';

const tmp = scratchDir('image-decode');

/** w x h RGB gradient with a distinct colour per quadrant, as raw pixels. */
function quadrants(w: number, h: number): Buffer {
  const px = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const q = (y < h / 2 ? 0 : 2) + (x < w / 2 ? 0 : 1);
      const colour = [[250, 10, 10], [10, 250, 10], [10, 10, 250], [250, 250, 10]][q] as number[];
      px.set(colour, (y * w + x) * 3);
    }
  }
  return px;
}

const rgb = (w: number, h: number) => sharp(quadrants(w, h), { raw: { width: w, height: h, channels: 3 } });

describe('decodeImage', () => {
  let dir: string;
  let pngPath: string;
  let jpeg: Buffer;

  beforeAll(async () => {
    dir = tmp();
    pngPath = path.join(dir, 'quadrants.png');
    await rgb(60, 40).png().toFile(pngPath);
    jpeg = await rgb(60, 40).jpeg({ quality: 95 }).toBuffer();
  });

  it('decodes a PNG path to RGB and keeps exact pixel values', async () => {
    const img = await decodeImage(pngPath);
    expect([img.width, img.height, img.channels, img.format]).toEqual([60, 40, 3, 'png']);
    expect(Array.from(img.data.subarray(0, 3))).toEqual([250, 10, 10]);
    expect(Array.from(img.data.subarray((39 * 60 + 59) * 3, (39 * 60 + 59) * 3 + 3))).toEqual([250, 250, 10]);
    expect(img.resample).toBeUndefined();
  });

  it('detects the format from content, not the file name', async () => {
    const misnamed = path.join(dir, 'actually-a-jpeg.png');
    writeFileSync(misnamed, jpeg);
    const img = await decodeImage(misnamed);
    expect(img.format).toBe('jpeg');
    const fromBytes = await decodeImage(new Uint8Array(jpeg));
    expect(fromBytes.format).toBe('jpeg');
    expect(Buffer.from(fromBytes.data).equals(Buffer.from(img.data))).toBe(true);
  });

  it('keeps gray as 1 channel, gray+alpha as 2, RGBA as 4', async () => {
    const gray = await rgb(20, 10).toColourspace('b-w').png().toBuffer();
    expect((await decodeImage(gray)).channels).toBe(1);
    const la = new Uint8Array(20 * 10 * 2).map((_, i) => (i % 2 === 0 ? i % 251 : 255 - (i % 200)));
    const grayAlpha = await sharp(la, { raw: { width: 20, height: 10, channels: 2 } }).toColourspace('b-w').png().toBuffer();
    const decodedLa = await decodeImage(grayAlpha);
    expect(decodedLa.channels).toBe(2);
    expect(Buffer.from(decodedLa.data).equals(Buffer.from(la))).toBe(true);
    const pixels = new Uint8Array(20 * 10 * 4).map((_, i) => (i % 4 === 3 ? 128 : i % 256));
    const rgba = await sharp(pixels, { raw: { width: 20, height: 10, channels: 4 } }).png().toBuffer();
    const img = await decodeImage(rgba);
    expect(img.channels).toBe(4);
    expect(Buffer.from(img.data).equals(Buffer.from(pixels))).toBe(true);
  });

  it('flags palette images for nearest resampling and CMYK JPEGs as CMYK', async () => {
    const palette = await rgb(20, 10).png({ palette: true }).toBuffer();
    expect((await decodeImage(palette)).resample).toBe('nearest');
    const cmyk = await rgb(20, 10).toColourspace('cmyk').jpeg().toBuffer();
    const img = await decodeImage(cmyk);
    expect(img.channels).toBe(4);
    expect(img.cmyk).toBe(true);
  });

  it('gives 16-bit gray as Pillow sees it: samples clamped to 255, plus the 16-bit values', async () => {
    const samples = new Uint16Array([0, 100, 255, 256, 40000, 65535]);
    const img = await decodeImage(gray16Png(samples, 6, 1));
    expect(Array.from(img.data)).toEqual([0, 100, 255, 255, 255, 255]);
    expect(Array.from(img.gray16 ?? [])).toEqual(Array.from(samples));
  });

  it("applies EXIF orientation with 'exif' and ignores it with 'ignore'", async () => {
    const rotated = await rgb(60, 40).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
    const stored = await decodeImage(rotated, { orientation: 'ignore' });
    expect([stored.width, stored.height]).toEqual([60, 40]);
    const upright = await decodeImage(rotated); // default 'exif'
    expect([upright.width, upright.height]).toEqual([40, 60]);
    // Orientation 6 turns the image 90° clockwise: the stored top-left (red) ends top-right.
    const topRight = Array.from(upright.data.subarray((0 * 40 + 39) * 3, (0 * 40 + 39) * 3 + 3));
    expect(topRight[0]).toBeGreaterThan(200);
    expect(topRight[1]).toBeLessThan(60);
  });

  it('passes valid raw pixels through and rejects inconsistent ones', async () => {
    const raw = { data: new Uint8Array(12), width: 2, height: 2, channels: 3 as const };
    expect((await decodeImage(raw)).format).toBe('raw');
    await expect(decodeImage({ ...raw, data: new Uint8Array(5) })).rejects.toBeInstanceOf(UsageError);
    await expect(decodeImage({ ...raw, width: 0 })).rejects.toBeInstanceOf(UsageError);
    await expect(decodeImage(null as unknown as RawImage)).rejects.toThrow(/<null>: expected a path, encoded image bytes or raw pixels/);
    await expect(decodeImage(7 as unknown as RawImage)).rejects.toThrow(/<number>: expected a path/);
  });

  it('truncated, corrupt, empty and missing inputs are ImageDecodeErrors naming the input', async () => {
    const truncated = path.join(dir, 'truncated.jpg');
    writeFileSync(truncated, jpeg.subarray(0, Math.floor(jpeg.length / 2)));
    const cases: Array<[string | Uint8Array, RegExp]> = [
      [truncated, /truncated\.jpg: cannot decode: .*(premature|end|truncat)/i],
      [new Uint8Array(Buffer.from('definitely not an image, just text')), /not a recognised image format/],
      [new Uint8Array(0), /empty file/],
      [path.join(dir, 'missing.jpg'), /missing\.jpg: cannot read file \(ENOENT\)/],
    ];
    for (const [input, message] of cases) {
      const err = await decodeImage(input).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ImageDecodeError);
      expect((err as Error).message).toMatch(message);
    }
  });

  it('an image over maxPixels is an ImageTooLargeError', async () => {
    const err = await decodeImage(pngPath, { maxPixels: 1000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageTooLargeError);
    expect((err as Error).message).toContain('60x40 exceeds the limit of 1000 pixels');
    await expect(decodeImage(pngPath, { maxPixels: 2400 })).resolves.toMatchObject({ width: 60 });
  });

  it('HEIC that the installed libvips cannot read is an UnsupportedImageError', async () => {
    // An ISO-BMFF 'ftyp' box with the heic brand, then junk: what an iPhone photo starts with.
    const heic = new Uint8Array(64);
    heic.set([0, 0, 0, 24], 0);
    heic.set(Buffer.from('ftypheic'), 4);
    const err = await decodeImage(heic).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsupportedImageError);
    expect((err as Error).message).toMatch(/HEIC/);
  });
});
