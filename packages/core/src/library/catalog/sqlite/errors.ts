// SQLite failures as typed catalog errors naming the file. better-sqlite3 throws SqliteError with
// an extended result code (SQLITE_IOERR_WRITE, SQLITE_CORRUPT_INDEX, ...); the primary code before
// the second underscore says what the user can do about it.
import fs from 'node:fs';
import { dirname } from 'node:path';
import { CatalogBusyError, CatalogError, CatalogMismatchError, type ClipkitError } from '../../../errors.js';

const REMEDY: Record<string, string> = {
  SQLITE_FULL: 'the disk is full: free space and rerun',
  SQLITE_CORRUPT: 'the catalog file is damaged (truncated or overwritten): restore it from a backup or import into a new --db',
  SQLITE_READONLY: 'the catalog or its folder is read-only: clipkit needs write access there',
  SQLITE_CANTOPEN: 'cannot open the catalog file (missing folder, no permission, or a directory)',
  SQLITE_IOERR: 'an I/O error occurred reading or writing the catalog',
  SQLITE_PERM: 'permission denied',
  SQLITE_AUTH: 'permission denied',
};

/**
 * SQLite reports a full disk or a read-only folder in WAL mode as an I/O error on its shared
 * memory file (SQLITE_IOERR_SHMSIZE) or as "unable to open"; the folder says which it was.
 */
function diagnose(file: string): string | undefined {
  if (file === '') return undefined;
  const dir = dirname(file);
  try {
    fs.accessSync(dir, fs.constants.W_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EROFS' || code === 'EACCES') return `the catalog's folder ${dir} is read-only (${code}): clipkit needs write access there`;
    if (code === 'ENOENT') return `the catalog's folder ${dir} does not exist`;
  }
  try {
    // A pseudo file system (/proc, /sys) has no blocks at all, so none available says nothing.
    const st = fs.statfsSync(dir);
    if (st.blocks > 0 && st.bavail === 0) return REMEDY.SQLITE_FULL;
  } catch {
    // statfs unsupported: fall back to SQLite's own word
  }
  return undefined;
}

/** The primary result code of a better-sqlite3 error, or undefined for any other error. */
export function sqliteCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !code.startsWith('SQLITE_')) return undefined;
  return code.split('_', 2).join('_');
}

/** A typed error for a SQLite failure on the catalog at `file`; other errors are returned as they are. */
export function catalogError(err: unknown, file: string): unknown {
  const code = sqliteCode(err);
  if (code === undefined) return err;
  const reason = (err as Error).message;
  let typed: ClipkitError;
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') {
    typed = new CatalogBusyError(`database is busy: another process holds a lock on it (${reason})`, file, { cause: err });
  } else if (code === 'SQLITE_NOTADB') {
    typed = new CatalogMismatchError('not a clipkit catalog (not an SQLite database)', file, { cause: err });
  } else {
    const remedy = (code === 'SQLITE_IOERR' || code === 'SQLITE_CANTOPEN' ? diagnose(file) : undefined) ?? REMEDY[code] ?? 'SQLite failed';
    typed = new CatalogError(`${remedy} (${(err as { code: string }).code}: ${reason})`, file, code, { cause: err });
  }
  return typed;
}

/**
 * `target` with every method's SQLite failure (thrown or rejected) turned into a typed error
 * naming the catalog file: one place instead of a try/catch in each method.
 */
export function withSqliteErrors<T extends object>(target: T, file: string): T {
  return new Proxy(target, {
    get(obj, key, receiver) {
      const value: unknown = Reflect.get(obj, key, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        try {
          const result: unknown = value.apply(obj, args);
          return result instanceof Promise ? result.catch((err: unknown) => Promise.reject(catalogError(err, file))) : result;
        } catch (err) {
          throw catalogError(err, file);
        }
      };
    },
  });
}
