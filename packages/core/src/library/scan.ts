// Walks a photo folder: recursive, symlinks followed (each real directory entered once, so link
// loops end), hidden entries skipped unless asked. Files are recognised as images by their
// first bytes, not their names.
import fs, { type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '../errors.js';

export interface ScanOptions {
  /** Also enter hidden folders and read hidden files (names starting with '.'). */
  hidden?: boolean;
  /** Called for folders or links that cannot be read; the walk goes on. */
  onError?: (path: string, err: Error) => void;
}

export interface ScannedFile {
  /** Absolute path as reached from the root (through links, not resolved). */
  path: string;
  size: number;
  mtimeMs: number;
}

export async function* walk(root: string, opts: ScanOptions = {}): AsyncGenerator<ScannedFile> {
  const top = path.resolve(root);
  let st;
  try {
    st = await fs.stat(top);
  } catch (err) {
    throw new UsageError(`${top}: cannot read folder (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err });
  }
  if (!st.isDirectory()) throw new UsageError(`${top}: not a folder`);
  const entered = new Set<string>([`${st.dev}:${st.ino}`]);
  yield* walkDir(top, entered, opts);
}

async function* walkDir(dir: string, entered: Set<string>, opts: ScanOptions): AsyncGenerator<ScannedFile> {
  let names: string[];
  try {
    names = (await fs.readdir(dir)).sort();
  } catch (err) {
    opts.onError?.(dir, err as Error);
    return;
  }
  for (const name of names) {
    if (!opts.hidden && name.startsWith('.')) continue;
    const full = path.join(dir, name);
    let st;
    try {
      st = await fs.stat(full); // follows links; a dangling one lands in catch
    } catch (err) {
      opts.onError?.(full, err as Error);
      continue;
    }
    if (st.isDirectory()) {
      const key = `${st.dev}:${st.ino}`;
      if (entered.has(key)) continue;
      entered.add(key);
      yield* walkDir(full, entered, opts);
    } else if (st.isFile()) {
      yield { path: full, size: st.size, mtimeMs: st.mtimeMs };
    }
  }
}

export type ImageFormat = 'jpeg' | 'png' | 'gif' | 'webp' | 'tiff' | 'avif' | 'heif' | 'jxl' | 'bmp';

/** Bytes needed by sniffImage. */
const SNIFF_BYTES = 32;

const HEIF_BRANDS = new Set(['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'mif1', 'msf1']);

/** The image format that a file's first bytes announce, or null when they announce none. */
export function sniffImage(head: Uint8Array): ImageFormat | null {
  const at = (offset: number, bytes: readonly number[]) => bytes.every((b, i) => head[offset + i] === b);
  const ascii = (offset: number, len: number) => String.fromCharCode(...head.subarray(offset, offset + len));
  if (at(0, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (at(0, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'png';
  if (ascii(0, 6) === 'GIF87a' || ascii(0, 6) === 'GIF89a') return 'gif';
  if (ascii(0, 4) === 'RIFF' && ascii(8, 4) === 'WEBP') return 'webp';
  if (at(0, [0x49, 0x49, 0x2a, 0x00]) || at(0, [0x4d, 0x4d, 0x00, 0x2a])) return 'tiff';
  if (at(0, [0xff, 0x0a]) || at(0, [0, 0, 0, 0x0c, 0x4a, 0x58, 0x4c, 0x20])) return 'jxl';
  if (ascii(4, 4) === 'ftyp') {
    const brand = ascii(8, 4);
    if (brand === 'avif' || brand === 'avis') return 'avif';
    if (HEIF_BRANDS.has(brand)) return 'heif';
  }
  if (ascii(0, 2) === 'BM' && head.length >= 18) return 'bmp';
  return null;
}

/** Names that promise an image: such a file whose bytes are no image is reported, not ignored. */
const IMAGE_EXTENSIONS = new Set([
  '.jpg', '.jpeg', '.jpe', '.png', '.gif', '.webp', '.tif', '.tiff', '.avif', '.heic', '.heif', '.jxl', '.bmp',
]);

export function hasImageExtension(file: string): boolean {
  return IMAGE_EXTENSIONS.has(path.extname(file).toLowerCase());
}

/** The first SNIFF_BYTES bytes of an open file (fewer for a shorter one); positional, so the
 * handle's own position stays at 0 for a following readFile(). */
export async function readHead(fh: FileHandle): Promise<Uint8Array> {
  const buf = new Uint8Array(SNIFF_BYTES);
  const { bytesRead } = await fh.read(buf, 0, SNIFF_BYTES, 0);
  return buf.subarray(0, bytesRead);
}
