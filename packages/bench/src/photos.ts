// Photo-like JPEGs for the image benchmarks: a small seeded scene scaled up, with a tiled grain
// overlay so the files carry real entropy (a smooth upscale alone would compress, and decode,
// unrealistically well).
import sharp from 'sharp';
import { noiseRgb } from './harness.js';

const grains = new Map<number, Promise<Buffer>>();

function grain(seed: number): Promise<Buffer> {
  let g = grains.get(seed);
  if (!g) {
    g = sharp(noiseRgb(256, 256, seed), { raw: { width: 256, height: 256, channels: 3 } }).png().toBuffer();
    grains.set(seed, g);
  }
  return g;
}

export async function photoLikeJpeg(width: number, height: number, sceneSeed: number, grainSeed: number): Promise<Buffer> {
  const base = await sharp(noiseRgb(16, 12, sceneSeed), { raw: { width: 16, height: 12, channels: 3 } })
    .resize(width, height, { kernel: 'cubic' })
    .raw()
    .toBuffer();
  return sharp(base, { raw: { width, height, channels: 3 } })
    .composite([{ input: await grain(grainSeed), tile: true, blend: 'soft-light' }])
    .jpeg({ quality: 90 })
    .toBuffer();
}
