// The CLI's one error boundary. Whatever a command throws becomes exactly one line on stderr and
// an exit code (1, or 2 for usage errors): typed errors as they are, SQLite and file-system
// failures named by their file, anything else as an internal error. The stack trace is printed
// only with --debug or CLIPKIT_DEBUG=1.
import { ClipkitError, FileAccessError, UsageError } from '../errors.js';
import { catalogError } from '../library/catalog/sqlite/errors.js';
import { displayMessage } from '../util/byte-paths.js';

export const EXIT_ERROR = 1;
export const EXIT_USAGE = 2;

let debugging = process.env.CLIPKIT_DEBUG === '1';

/** Turns on stack traces (the global --debug flag). */
export function setDebug(on: boolean): void {
  debugging = debugging || on;
}

export function action<A extends unknown[]>(fn: (...args: A) => Promise<void> | void) {
  return async (...args: A): Promise<void> => {
    try {
      await fn(...args);
    } catch (err) {
      reportError(err);
    }
  };
}

/** Prints err as one line and sets the exit code; returns that code. */
export function reportError(err: unknown): number {
  const typed = toClipkitError(err);
  const line = typed ? typed.message : `internal error: ${describe(err)} (rerun with --debug for the stack trace)`;
  process.stderr.write(`clipkit: ${displayMessage(line, typed?.path)}\n`);
  if (debugging) process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  const code = typed instanceof UsageError ? EXIT_USAGE : EXIT_ERROR;
  process.exitCode = code;
  return code;
}

/** The typed error an error stands for, or null when it is a bug. */
function toClipkitError(err: unknown): ClipkitError | null {
  if (err instanceof ClipkitError) return err;
  // A SQLite failure outside the catalog's own mapping: the database named is the catalog.
  const sqlite = catalogError(err, '');
  if (sqlite instanceof ClipkitError) return sqlite;
  const e = err as NodeJS.ErrnoException | null;
  if (e && typeof e.code === 'string' && typeof e.syscall === 'string') {
    // An fs/net failure: errno code and the path it concerns.
    const where = typeof e.path === 'string' ? e.path : undefined;
    return new FileAccessError(`${e.syscall} failed (${e.code})`, where, { cause: err });
  }
  return null;
}

function describe(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}
