// Walks a photo folder: recursive, hidden entries skipped unless asked; symlinks are followed
// while they stay inside the root (each real directory entered once, so link loops end), and a
// link out of it is reported and skipped unless followLinks. Names are handled as bytes, so a
// file whose name is not UTF-8 is found, shown escaped and opened by its bytes
// (util/byte-paths.ts). Files are recognised as images by their first bytes, not their names.
import fs, { type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { fsPath, joinName, nameText } from '../util/byte-paths.js';

export interface ScanOptions {
  /** Also enter hidden folders and read hidden files (names starting with '.'). */
  hidden?: boolean;
  /** Follow symlinks that lead outside the root too (default: report and skip them). */
  followLinks?: boolean;
  /** Called for folders or links that cannot be read or are skipped; the walk goes on. */
  onError?: (path: string, err: Error) => void;
}

export interface ScannedFile {
  /** Absolute path as reached from the root (through links, not resolved); escaped when not UTF-8. */
  path: string;
  /** The path's bytes: what opens the file. */
  fsPath: Buffer;
  size: number;
  mtimeMs: number;
}

interface Dir {
  bytes: Buffer;
  text: string;
}

interface Walk {
  entered: Set<string>;
  /** The root's real path, for telling links that leave it. */
  realRoot: Buffer;
  opts: ScanOptions;
}

/** The folder to walk, checked: a UsageError naming it when it is missing or no folder. */
export async function openRoot(root: string): Promise<{ dir: Dir; realRoot: Buffer; key: string }> {
  const top = path.resolve(root);
  const given = fsPath(root);
  const bytes = typeof given === 'string' ? Buffer.from(top) : path.isAbsolute(root) ? given : Buffer.concat([Buffer.from(`${process.cwd()}/`), given]);
  let st;
  let realRoot: Buffer;
  try {
    st = await fs.stat(bytes);
    realRoot = await fs.realpath(bytes, { encoding: 'buffer' });
  } catch (err) {
    throw new UsageError(`${top}: cannot read folder (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err });
  }
  if (!st.isDirectory()) throw new UsageError(`${top}: not a folder`);
  return { dir: { bytes, text: top }, realRoot, key: `${st.dev}:${st.ino}` };
}

export async function* walk(root: string, opts: ScanOptions = {}): AsyncGenerator<ScannedFile> {
  const { dir, realRoot, key } = await openRoot(root);
  yield* walkDir(dir, { entered: new Set([key]), realRoot, opts });
}

async function* walkDir(dir: Dir, w: Walk): AsyncGenerator<ScannedFile> {
  const { opts } = w;
  let names: Buffer[];
  try {
    names = (await fs.readdir(dir.bytes, { encoding: 'buffer' })).sort(Buffer.compare);
  } catch (err) {
    opts.onError?.(dir.text, err as Error);
    return;
  }
  for (const name of names) {
    if (!opts.hidden && name[0] === 0x2e) continue;
    const full = joinName(dir, name);
    let st;
    try {
      if (!opts.followLinks && (await fs.lstat(full.bytes)).isSymbolicLink()) {
        const target = await fs.realpath(full.bytes, { encoding: 'buffer' }); // a dangling link lands in catch
        if (!inside(target, w.realRoot)) {
          const err = Object.assign(new Error(`symlink leads outside the imported folder (to ${nameText(target)}); skipped (--follow-links follows it)`), { code: 'ELINKOUT' });
          opts.onError?.(full.text, err);
          continue;
        }
      }
      st = await fs.stat(full.bytes); // follows links
    } catch (err) {
      opts.onError?.(full.text, err as Error);
      continue;
    }
    if (st.isDirectory()) {
      const key = `${st.dev}:${st.ino}`;
      if (w.entered.has(key)) continue;
      w.entered.add(key);
      yield* walkDir(full, w);
    } else if (st.isFile()) {
      yield { path: full.text, fsPath: full.bytes, size: st.size, mtimeMs: st.mtimeMs };
    }
  }
}

function inside(target: Buffer, root: Buffer): boolean {
  if (target.equals(root)) return true;
  const prefix = root[root.length - 1] === 0x2f ? root : Buffer.concat([root, Buffer.from('/')]);
  return target.length > prefix.length && target.subarray(0, prefix.length).equals(prefix);
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
