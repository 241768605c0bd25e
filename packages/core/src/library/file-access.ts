// Reading catalogued files back by id, for `clipkit serve`: a file is handed out only when its
// real location (symlinks resolved) lies inside a folder that was imported, so a link planted in
// a photo folder cannot expose /etc/passwd. Image sizes come from the header and are cached.
import { constants, type Stats } from 'node:fs';
import fs, { type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { AccessDeniedError, NotFoundError } from '../errors.js';
import type { Catalog, CatalogFile } from './catalog/index.js';
import { nameText, storedFsPath } from '../util/byte-paths.js';
import { sniffImage, type ImageFormat } from './scan.js';

export interface FileInfo {
  id: number;
  path: string;
  size: number;
  mtimeMs: number;
  /** sha256 of the content at import time. */
  hash: string;
  /** The format the file's bytes announce (not its name). */
  format: ImageFormat | null;
  /** Displayed size (EXIF orientation applied); null when the header cannot be read. */
  width: number | null;
  height: number | null;
}

export interface OpenedFile {
  info: FileInfo;
  handle: FileHandle;
  stat: Stats;
}

const HEAD_BYTES = 32;
const MAX_CACHED = 200_000;

export class FileAccess {
  private readonly described = new Map<string, Promise<FileInfo>>();

  constructor(private readonly catalog: Catalog) {}

  /** The file's details; NotFoundError for an unknown id, AccessDeniedError outside the roots. */
  async info(id: number): Promise<FileInfo> {
    const file = await this.lookup(id);
    const key = `${file.id}:${file.size}:${file.mtimeMs}:${file.hash}`;
    let info = this.described.get(key);
    if (!info) {
      if (this.described.size >= MAX_CACHED) this.described.clear();
      info = this.describe(file);
      this.described.set(key, info);
      info.catch(() => this.described.delete(key)); // a fixed file is looked at again
    }
    return info;
  }

  /** Opens the original for reading (the caller closes the handle). */
  async open(id: number): Promise<OpenedFile> {
    const file = await this.lookup(id);
    const real = await this.contained(file);
    let handle: FileHandle;
    try {
      // O_NOFOLLOW: the checked path cannot be swapped for a link between the check and the open.
      handle = await fs.open(real, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (err) {
      throw new NotFoundError(`file ${id} cannot be opened (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, file.path, { cause: err });
    }
    try {
      const stat = await handle.stat();
      if (!stat.isFile()) throw new AccessDeniedError(`file ${id} is not a regular file`, file.path);
      return { info: await this.info(id), handle, stat };
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  private async lookup(id: number): Promise<CatalogFile> {
    const file = Number.isSafeInteger(id) ? await this.catalog.fileById(id) : undefined;
    if (!file) throw new NotFoundError(`no file with id ${id} in the catalog`);
    return file;
  }

  private async describe(file: CatalogFile): Promise<FileInfo> {
    const real = await this.contained(file);
    const head = new Uint8Array(HEAD_BYTES);
    let handle: FileHandle;
    try {
      handle = await fs.open(real, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (err) {
      throw new NotFoundError(`file ${file.id} cannot be opened (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, file.path, { cause: err });
    }
    let width: number | null = null;
    let height: number | null = null;
    try {
      await handle.read(head, 0, HEAD_BYTES, 0);
      try {
        // Header only; no pixel limit since nothing is decoded. sharp takes a path as a string
        // only, so a name that is not UTF-8 is read through the descriptor already open.
        const meta = await sharp(typeof real === 'string' ? real : `/proc/self/fd/${handle.fd}`, { limitInputPixels: false }).metadata();
        width = meta.autoOrient?.width ?? meta.width ?? null;
        height = meta.autoOrient?.height ?? meta.height ?? null;
      } catch {
        // a file that changed into a non-image since the import: served without a size
      }
    } finally {
      await handle.close();
    }
    return { id: file.id, path: file.path, size: file.size, mtimeMs: file.mtimeMs, hash: file.hash, format: sniffImage(head), width, height };
  }

  /**
   * The file's real path, after checking it lies (lexically and really) inside an imported root:
   * a string, or the bytes of a name that is not UTF-8 (stored escaped, see util/byte-paths.ts).
   */
  private async contained(file: CatalogFile): Promise<string | Buffer> {
    let realBytes: Buffer;
    try {
      realBytes = await fs.realpath(storedFsPath(file.path), { encoding: 'buffer' });
    } catch (err) {
      throw new NotFoundError(`file ${file.id} is gone (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, file.path, { cause: err });
    }
    // Compared as text (escaped where not UTF-8), opened by the bytes.
    const real = nameText(realBytes);
    const opened = real === realBytes.toString() ? real : realBytes;
    const roots = await this.catalog.roots();
    // A catalog written before roots were recorded: only files reached without any link.
    if (roots.length === 0 && real === file.path) return opened;
    for (const root of roots) {
      if (!isInside(file.path, root)) continue;
      const realRoot = await fs.realpath(root).catch(() => null);
      if (realRoot !== null && isInside(real, realRoot)) return opened;
    }
    throw new AccessDeniedError(`file ${file.id} resolves outside every imported folder (through a symbolic link)`, file.path);
  }
}

function isInside(file: string, dir: string): boolean {
  const rel = path.relative(dir, file);
  return rel !== '' && !rel.startsWith(`..${path.sep}`) && rel !== '..' && !path.isAbsolute(rel);
}
