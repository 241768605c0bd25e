// Hugging Face's CLIPImageProcessor converts to RGB before resizing: alpha is dropped as it is
// (no premultiplication; or composited when asked), palette/bilevel images are resized bicubically from their RGB
// expansion, CMYK goes through Pillow's naive conversion first. This is a full-size copy, made
// only for images that need it (grayscale and RGB pass through: their resize is per channel).
import type { RawImage } from '@clipkit/native-cuda';

/** `alpha` 'white'/'black' composites over that colour instead of dropping alpha. */
export function toRgbFirst<T extends RawImage>(image: T, alpha: 'reference' | 'white' | 'black' = 'reference'): T {
  const bg = alpha === 'white' ? 255 : alpha === 'black' ? 0 : -1;
  const over = (c: number, a: number) => (bg < 0 ? c : clip8(muldiv255(c, a) + muldiv255(bg, 255 - a)));
  const { data, width, height, channels } = image;
  const plain: T = { ...image };
  delete plain.resample;
  delete plain.cmyk;
  if (channels === 1 || channels === 3) return plain;
  const pixels = width * height;
  if (channels === 2) {
    const gray = new Uint8Array(pixels);
    for (let i = 0; i < pixels; i++) gray[i] = over(data[2 * i] as number, data[2 * i + 1] as number);
    return { ...plain, data: gray, channels: 1 };
  }
  const rgb = new Uint8Array(pixels * 3);
  for (let i = 0; i < pixels; i++) {
    const s = 4 * i;
    if (image.cmyk === true) {
      const nk = 255 - (data[s + 3] as number);
      for (let c = 0; c < 3; c++) rgb[3 * i + c] = clip8(nk - muldiv255(data[s + c] as number, nk));
    } else {
      const a = data[s + 3] as number;
      for (let c = 0; c < 3; c++) rgb[3 * i + c] = over(data[s + c] as number, a);
    }
  }
  return { ...plain, data: rgb, channels: 3 };
}

// Pillow's Convert.c helpers (exact integer rounding).
function muldiv255(a: number, b: number): number {
  const t = a * b + 128;
  return ((t >> 8) + t) >> 8;
}

function clip8(v: number): number {
  return v <= 0 ? 0 : v < 256 ? v : 255;
}
