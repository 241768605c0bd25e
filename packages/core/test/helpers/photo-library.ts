// Generated photo libraries for the library tests: small seeded images in nested folders, with
// byte-identical copies, near-duplicates (same picture, another encoding), broken files, files
// that are no images, hidden folders and symlinks. The manifest says what an import must find.
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { Prng } from '../../src/testing/prng.js';

export interface PhotoLibrary {
  root: string;
  /** Decodable image files (paths), copies included. */
  images: string[];
  /** Distinct decodable contents (what the model must encode). */
  uniqueImages: number;
  /** Files named and/or sniffed as images that cannot be decoded. */
  broken: string[];
  /** Paths that are byte-identical copies of an earlier image. */
  copies: string[];
  /** [original, re-encoded] pairs of the same picture. */
  nearDuplicates: Array<[string, string]>;
}

export interface PhotoLibraryOptions {
  photos: number;
  size?: number;
  seed?: number;
}

/** A picture: a gradient background with a few bright rectangles, all from the seed. */
export function picture(seed: number, size: number): Buffer {
  const rng = new Prng(seed);
  const px = Buffer.alloc(size * size * 3);
  const base = [rng.int(0, 256), rng.int(0, 256), rng.int(0, 256)];
  const slope = [rng.next() * 4 - 2, rng.next() * 4 - 2, rng.next() * 4 - 2];
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++)
      for (let c = 0; c < 3; c++) px[(y * size + x) * 3 + c] = Math.max(0, Math.min(255, (base[c] as number) + (slope[c] as number) * (c === 1 ? y : x)));
  for (let r = 0; r < 4; r++) {
    const [x0, y0] = [rng.int(0, size - 8), rng.int(0, size - 8)];
    const [w, h] = [rng.int(4, size / 2), rng.int(4, size / 2)];
    const color = [rng.int(0, 256), rng.int(0, 256), rng.int(0, 256)];
    for (let y = y0; y < Math.min(size, y0 + h); y++)
      for (let x = x0; x < Math.min(size, x0 + w); x++) for (let c = 0; c < 3; c++) px[(y * size + x) * 3 + c] = color[c] as number;
  }
  return px;
}

export async function encodePicture(seed: number, size: number, format: 'jpeg' | 'png' | 'webp', quality = 90): Promise<Buffer> {
  const img = sharp(picture(seed, size), { raw: { width: size, height: size, channels: 3 } });
  if (format === 'jpeg') return img.jpeg({ quality }).toBuffer();
  if (format === 'png') return img.png().toBuffer();
  return img.webp({ quality }).toBuffer();
}

export async function makePhotoLibrary(root: string, opts: PhotoLibraryOptions): Promise<PhotoLibrary> {
  const size = opts.size ?? 64;
  const seed = opts.seed ?? 1;
  const lib: PhotoLibrary = { root, images: [], uniqueImages: 0, broken: [], copies: [], nearDuplicates: [] };
  const write = (rel: string, bytes: Uint8Array | string) => {
    const file = path.join(root, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, bytes);
    return file;
  };
  const formats = ['jpeg', 'png', 'webp'] as const;
  const ext = { jpeg: 'jpg', png: 'png', webp: 'webp' } as const;
  for (let i = 0; i < opts.photos; i++) {
    const format = formats[i % 3] as (typeof formats)[number];
    // Nested by "year/month"; some files get a misleading extension (content decides).
    const name = i % 17 === 5 ? `photo-${i}.dat` : `photo-${i}.${ext[format]}`;
    lib.images.push(write(`${2020 + (i % 3)}/${String(1 + (i % 5)).padStart(2, '0')}/${name}`, await encodePicture(seed * 100_000 + i, size, format)));
    lib.uniqueImages++;
  }
  // Byte-identical copies elsewhere: encoded once, found at every path.
  for (let i = 0; i < Math.min(5, opts.photos); i++) {
    const original = lib.images[i * 2] as string;
    const copy = write(`copies/copy-${i}${path.extname(original)}`, fs.readFileSync(original));
    lib.images.push(copy);
    lib.copies.push(copy);
  }
  // Near-duplicates: one picture saved as PNG and as a JPEG.
  for (let i = 0; i < 3; i++) {
    const s = seed * 100_000 + 50_000 + i;
    const a = write(`edits/pic-${i}.png`, await encodePicture(s, size, 'png'));
    const b = write(`edits/pic-${i}-export.jpg`, await encodePicture(s, size, 'jpeg', 85));
    lib.images.push(a, b);
    lib.uniqueImages += 2;
    lib.nearDuplicates.push([a, b]);
  }
  // Broken: a truncated JPEG, an empty .png, random bytes named .jpg.
  const jpeg = await encodePicture(seed * 100_000 + 90_000, size, 'jpeg');
  lib.broken.push(write('broken/truncated.jpg', jpeg.subarray(0, Math.floor(jpeg.length / 3))));
  lib.broken.push(write('broken/empty.png', ''));
  const noise = new Prng(seed);
  lib.broken.push(write('broken/noise.jpg', Uint8Array.from({ length: 500 }, () => noise.int(0, 256))));
  // Ignored: non-image files, hidden folders and files, a link loop; a file link is followed.
  write('notes.txt', 'not a photo');
  write('2020/sidecar.xmp', '<x:xmpmeta/>');
  write('.thumbnails/thumb.jpg', await encodePicture(seed + 7, size, 'jpeg'));
  write('2021/.hidden.jpg', await encodePicture(seed + 8, size, 'jpeg'));
  fs.symlinkSync(root, path.join(root, '2020', 'loop'));
  const linked = path.join(root, 'linked.png');
  fs.symlinkSync(lib.images[1] as string, linked);
  lib.images.push(linked);
  lib.copies.push(linked);
  return lib;
}
