// Thumbnails: WebP made by sharp, cached on disk by content hash (a file edited in place gets a
// new hash at its next import, hence a new thumbnail), made once even when requested in parallel.
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { DEFAULT_MAX_PIXELS } from '../image/decode.js';
import { ImageDecodeError } from '../errors.js';
import type { Library } from '../library/index.js';
import { cacheRoot } from '../model/hub.js';
import { displayPath } from '../util/byte-paths.js';

const THUMB_SIZE = 320;

/** Next to a file catalog (`clipkit.db.thumbs/`); for a database URL, under the cache dir. */
export function defaultThumbnailDir(dbPath: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(dbPath)) {
    const id = createHash('sha256').update(dbPath.replace(/\/\/[^@/]*@/, '//')).digest('hex').slice(0, 16);
    return path.join(cacheRoot(), 'thumbs', id);
  }
  return `${dbPath}.thumbs`;
}

export class Thumbnails {
  private readonly making = new Map<string, Promise<Buffer>>();
  private warned = false;

  constructor(
    private readonly library: Library,
    readonly dir: string,
  ) {}

  /** The ETag of file content `hash`'s thumbnail. */
  static etag(hash: string): string {
    return `"${hash.slice(0, 32)}-${THUMB_SIZE}"`;
  }

  /** The thumbnail of catalogued file `id` whose content hash is `hash`. */
  get(id: number, hash: string): Promise<Buffer> {
    const file = path.join(this.dir, hash.slice(0, 2), `${hash}-${THUMB_SIZE}.webp`);
    let pending = this.making.get(file);
    if (!pending) {
      pending = this.readOrMake(id, file).finally(() => this.making.delete(file));
      this.making.set(file, pending);
    }
    return pending;
  }

  private async readOrMake(id: number, file: string): Promise<Buffer> {
    try {
      return await fs.readFile(file);
    } catch {
      // not cached yet
    }
    const opened = await this.library.openFile(id);
    let bytes: Buffer;
    try {
      bytes = await opened.handle.readFile();
    } finally {
      await opened.handle.close();
    }
    let thumb: Buffer;
    try {
      thumb = await sharp(bytes, { limitInputPixels: DEFAULT_MAX_PIXELS, failOn: 'error' })
        .rotate()
        .resize(THUMB_SIZE, THUMB_SIZE, { fit: 'inside', withoutEnlargement: true })
        .webp({ quality: 75 })
        .toBuffer();
    } catch (err) {
      throw new ImageDecodeError(`cannot make a thumbnail of file ${id}: ${(err as Error).message}`, opened.info.path, { cause: err });
    }
    await this.cache(file, thumb);
    return thumb;
  }

  /** Stores a thumbnail; a cache that cannot be written (read-only folder, full disk) costs speed, not the page. */
  private async cache(file: string, thumb: Buffer): Promise<void> {
    // Write then rename: a reader never sees half a file, and two servers may share the folder.
    const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    try {
      await fs.mkdir(path.dirname(file), { recursive: true });
      await fs.writeFile(tmp, thumb);
      await fs.rename(tmp, file);
    } catch (err) {
      await fs.rm(tmp, { force: true }).catch(() => {});
      if (!this.warned) {
        this.warned = true;
        process.stderr.write(`clipkit serve: thumbnails are not cached, ${displayPath(this.dir)} cannot be written (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})\n`);
      }
    }
  }
}
