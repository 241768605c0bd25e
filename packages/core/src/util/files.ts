// Opening files a user names. A FIFO, socket or device given as an image, config or template
// would block a plain open() or read() forever, and a directory fails late with EISDIR; so every
// such file is opened O_NONBLOCK (which never waits for a FIFO's writer), checked with fstat to be
// a regular file, and only then read. Failures carry a short errno-style reason for the caller's
// typed error.
import fs, { constants } from 'node:fs';
import fsp from 'node:fs/promises';
import { fsPath } from './byte-paths.js';

const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK;

/** A path as given, or the bytes of a name that is not UTF-8 (util/byte-paths.ts). */
const target = (file: fs.PathLike): fs.PathLike => (typeof file === 'string' ? fsPath(file) : file);

/** An fs failure as a few words: the errno code, or which kind of non-regular file it was. */
export function fsReason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'ENOTREG') return e.message;
  return e.code ?? e.message;
}

export function kindOf(st: fs.Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'a special file';
}

function notRegular(st: fs.Stats): NodeJS.ErrnoException {
  return Object.assign(new Error(`not a regular file: ${kindOf(st)}`), { code: 'ENOTREG' });
}

/** The whole of a regular file; rejects with code ENOTREG for anything else, never blocks. */
export async function readRegularFile(file: fs.PathLike): Promise<Buffer> {
  const fh = await fsp.open(target(file), OPEN_FLAGS);
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw notRegular(st);
    return await fh.readFile();
  } finally {
    await fh.close();
  }
}

/** readRegularFile, synchronously. */
export function readRegularFileSync(file: fs.PathLike): Buffer {
  const fd = openRegularFileSync(file);
  try {
    return fs.readFileSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** A read-only descriptor of a regular file (the caller closes it); throws ENOTREG otherwise. */
export function openRegularFileSync(file: fs.PathLike): number {
  const fd = fs.openSync(target(file), OPEN_FLAGS);
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw notRegular(st);
    return fd;
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
}
