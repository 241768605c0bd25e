// Decoding with sharp (libvips) into uint8 interleaved pixels, seen the way Pillow sees the file:
// no ICC conversion, first frame only, EXIF orientation only when asked, CMYK kept as CMYK,
// palette and 1-bit images flagged for NEAREST resampling. Every failure is a typed error naming
// the input and the decoder's reason.
//
// Notes on matching Pillow 9.4 (the reference):
// - 16-bit grayscale PNG: Pillow opens it as mode 'I' and its RGB conversion clamps at 255; we
//   give the same clamped 8-bit values plus the 16-bit samples, which preprocess.ts resizes in
//   Pillow's int32 arithmetic (pillow-int32.ts) so the result still matches.
// - JPEG: sharp's mozjpeg and Pillow's libjpeg-turbo share the same IDCT and upsampling, so
//   pixels match byte for byte on the reference set; another libjpeg build may differ by a level.
// - ICC profiles are ignored (Pillow ignores them): Adobe RGB or P3 photos keep their raw values.
import sharp, { type SharpOptions } from 'sharp';
import type { RawImage } from '@clipkit/native-cuda';
import { ClipkitError, ImageDecodeError, ImageTooLargeError, UnsupportedImageError, UsageError } from '../errors.js';
import type { ImageInput } from '../types.js';
import { fsReason, readRegularFile } from '../util/files.js';

/** sharp's default limit (0x3FFF × 0x3FFF). */
export const DEFAULT_MAX_PIXELS = 268_402_689;

export interface DecodeOptions {
  /** 'exif' (default) rotates/flips by the EXIF Orientation tag; 'ignore' keeps stored pixels. */
  orientation?: 'exif' | 'ignore';
  maxPixels?: number;
  /**
   * Shrink-on-load: large JPEG and WebP images are decoded straight to a shorter side of twice
   * this (libjpeg's DCT scaling by 2/4/8 plus a small lanczos3 step; libwebp's scaling). Other
   * formats, and images too small to gain, decode in full. Omit for a full decode.
   */
  shrinkTo?: number;
}

/** A decoded image plus what the decoder learnt about the file. */
export interface DecodedImage extends RawImage {
  /** Container format from the content ('jpeg', 'png', 'webp', 'gif', ...); 'raw' for pixels. */
  format: string;
  /** 16-bit grayscale only: the samples Pillow resizes (as mode 'I'); `data` holds them clamped. */
  gray16?: Uint16Array;
}

/** How an input is named in errors: its path, or a description of the buffer. */
export function describeInput(input: ImageInput): string {
  if (typeof input === 'string') return input;
  if (input instanceof Uint8Array) return `<buffer of ${input.byteLength} bytes>`;
  if (typeof input !== 'object' || input === null) return `<${input === null ? 'null' : typeof input}>`;
  return `<raw ${input.width}x${input.height}x${input.channels}>`;
}

/** Decodes a file path, encoded bytes or (validated, passed through) raw pixels. */
export async function decodeImage(input: ImageInput, opts: DecodeOptions = {}): Promise<DecodedImage> {
  const name = describeInput(input);
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (!Number.isSafeInteger(maxPixels) || maxPixels <= 0) {
    throw new UsageError(`maxPixels must be a positive integer, got ${String(maxPixels)}`);
  }
  if (typeof input !== 'string' && !(input instanceof Uint8Array)) {
    if (typeof input !== 'object' || input === null) throw new UsageError(`${name}: expected a path, encoded image bytes or raw pixels`);
    return checkRaw(input, name, maxPixels);
  }
  const bytes = typeof input === 'string' ? await readImageFile(input) : input;
  return decodeEncoded(bytes, name, opts);
}

/** Decodes encoded image bytes already read (from the file `name` names in errors). */
export async function decodeEncoded(bytes: Uint8Array, name: string, opts: DecodeOptions = {}): Promise<DecodedImage> {
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (bytes.byteLength === 0) throw new ImageDecodeError('empty file: not an image', name);
  try {
    return await decodeBytes(bytes, opts, maxPixels, name);
  } catch (err) {
    throw toTypedError(err, bytes, name, maxPixels);
  }
}

/** An image file's bytes (regular files only); a typed error naming the file otherwise. */
export async function readImageFile(path: string): Promise<Uint8Array> {
  try {
    return await readRegularFile(path);
  } catch (err) {
    throw new ImageDecodeError(`cannot read file (${fsReason(err)})`, path, { cause: err });
  }
}

async function decodeBytes(bytes: Uint8Array, opts: DecodeOptions, maxPixels: number, name: string): Promise<DecodedImage> {
  // failOn 'error': truncated or corrupt data aborts (Pillow refuses those too); mere warnings,
  // such as extraneous bytes between JPEG markers, do not.
  const input = { failOn: 'error', limitInputPixels: maxPixels, ignoreIcc: true, autoOrient: opts.orientation !== 'ignore' } as const;
  // The header alone (no pixel limit yet), so an oversized image is reported with its size.
  const meta = await sharp(bytes, { ...input, limitInputPixels: false }).metadata();
  const format = meta.format ?? 'unknown';
  if (meta.width === undefined || meta.height === undefined) throw new ImageDecodeError('the decoder found no image dimensions', name);
  if (meta.width * meta.height > maxPixels) {
    throw new ImageTooLargeError(`${meta.width}x${meta.height} exceeds the limit of ${maxPixels} pixels`, name);
  }

  if (meta.space === 'grey16' && meta.hasAlpha !== true) return decodeGray16(bytes, input, format, name);

  let pipeline = sharp(bytes, input);
  // Pillow resizes palette ('P') and bilevel ('1') images with NEAREST, whatever was asked.
  const nearest = format === 'gif' || meta.isPalette === true || meta.bitsPerSample === 1;
  const cmyk = meta.space === 'cmyk';
  if (cmyk) {
    // The CMYK bands as stored (Adobe inversion undone), for Pillow's naive conversion.
    pipeline = pipeline.pipelineColourspace('cmyk').toColourspace('cmyk');
  } else if ((meta.space === 'b-w' || meta.space === 'grey16') && meta.hasAlpha !== true) {
    pipeline = pipeline.toColourspace('b-w');
  } else {
    // sRGB, or gray+alpha: sharp's b-w output drops alpha, so that comes back as RGBA and is
    // packed to LA below.
    pipeline = pipeline.toColourspace('srgb');
  }
  const shrinkTo = opts.shrinkTo;
  if (shrinkTo !== undefined && shrinksOnLoad(format, Math.min(meta.width, meta.height), shrinkTo)) {
    const target = 2 * shrinkTo;
    pipeline = pipeline.resize({ width: target, height: target, fit: 'outside', withoutEnlargement: true, fastShrinkOnLoad: true });
  }
  const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
  if ((meta.space === 'b-w' || meta.space === 'grey16') && info.channels === 4) {
    const image: DecodedImage = { data: rgbaToLa(data), width: info.width, height: info.height, channels: 2, format };
    if (nearest) image.resample = 'nearest';
    return image;
  }
  const channels = info.channels;
  if (channels < 1 || channels > 4) throw new UnsupportedImageError(`${channels} channels per pixel are not supported`, name);
  const image: DecodedImage = {
    data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    width: info.width,
    height: info.height,
    channels: channels as 1 | 2 | 3 | 4,
    format,
  };
  if (nearest) image.resample = 'nearest';
  if (cmyk && channels === 4) image.cmyk = true;
  return image;
}

// sharp resizes a JPEG to 2x the target by a libjpeg DCT shrink (2, 4 or 8) and a lanczos3
// remainder, but only picks a factor f when shorter/(2*target) >= f + 1 (it steps down when the
// ratio truncates to f itself); WebP decodes straight to the target at any ratio. Below those
// ratios sharp would only add a second resampling, so the image is decoded in full instead.
function shrinksOnLoad(format: string, shorter: number, target: number): boolean {
  if (format === 'jpeg') return shorter >= 3 * 2 * target;
  if (format === 'webp') return shorter >= 2 * 2 * target;
  return false;
}

function rgbaToLa(rgba: Uint8Array): Uint8Array {
  const la = new Uint8Array(rgba.length / 2);
  for (let i = 0, j = 0; j < la.length; i += 4, j += 2) {
    la[j] = rgba[i] as number;
    la[j + 1] = rgba[i + 3] as number;
  }
  return la;
}

// Pillow opens 16-bit grayscale as mode 'I' (0..65535) and its conversion to RGB clamps to 255;
// sharp would scale to 8 bits instead, so read the 16-bit samples and clamp them here.
async function decodeGray16(bytes: Uint8Array, input: SharpOptions, format: string, name: string): Promise<DecodedImage> {
  const { data, info } = await sharp(bytes, input)
    .pipelineColourspace('grey16')
    .toColourspace('grey16')
    .raw({ depth: 'ushort' })
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 1) throw new UnsupportedImageError(`16-bit grayscale with ${info.channels} channels is not supported`, name);
  const aligned = data.byteOffset % 2 === 0 ? data : Buffer.from(data);
  const samples = new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 2);
  const out = new Uint8Array(samples.length);
  for (let i = 0; i < samples.length; i++) out[i] = Math.min(samples[i] ?? 0, 255);
  return { data: out, width: info.width, height: info.height, channels: 1, format, gray16: samples };
}

function checkRaw(image: RawImage, name: string, maxPixels: number): DecodedImage {
  const { width, height, channels, data } = image;
  if (!Number.isSafeInteger(width) || !Number.isSafeInteger(height) || width <= 0 || height <= 0) {
    throw new UsageError(`${name}: width and height must be positive integers`);
  }
  if (![1, 2, 3, 4].includes(channels)) throw new UsageError(`${name}: channels must be 1, 2, 3 or 4`);
  if (!(data instanceof Uint8Array) || data.length < width * height * channels) {
    throw new UsageError(`${name}: data must be a Uint8Array of at least width*height*channels = ${width * height * channels} bytes`);
  }
  if (width * height > maxPixels) throw new ImageTooLargeError(`${width}x${height} exceeds the limit of ${maxPixels} pixels`, name);
  return { ...image, format: 'raw' };
}

// HEIF brands whose images are HEVC coded: sharp's prebuilt libvips reads AVIF only.
const HEIC_BRANDS = new Set(['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'mif1', 'msf1']);

function isHeic(bytes: Uint8Array): boolean {
  if (bytes.byteLength < 12) return false;
  const box = new TextDecoder('latin1').decode(bytes.subarray(4, 12));
  return box.startsWith('ftyp') && HEIC_BRANDS.has(box.slice(4));
}

function toTypedError(err: unknown, bytes: Uint8Array, name: string, maxPixels: number): ClipkitError {
  if (err instanceof ClipkitError) return err;
  const reason = decoderReason(err);
  if (/exceeds pixel limit/i.test(reason)) {
    return new ImageTooLargeError(`image exceeds the limit of ${maxPixels} pixels`, name, { cause: err });
  }
  if (isHeic(bytes)) {
    return new UnsupportedImageError(`a HEIC/HEIF image the installed libvips cannot decode (sharp's prebuilt libvips reads AVIF only): ${reason}`, name, { cause: err });
  }
  if (/unsupported image format/i.test(reason)) {
    return new ImageDecodeError('not a recognised image format', name, { cause: err });
  }
  return new ImageDecodeError(`cannot decode: ${reason}`, name, { cause: err });
}

/**
 * libvips keeps one error buffer per process: concurrent decodes append to it (the same line
 * repeated) or find it emptied by another thread, and sharp then says 'Unknown error'.
 * One line per distinct message, and a plain statement when none is left.
 */
function decoderReason(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const lines = [...new Set(text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !/^unknown error$/i.test(l)))];
  return lines.length > 0 ? lines.join('; ') : 'corrupt or truncated data (the decoder gave no detail)';
}
