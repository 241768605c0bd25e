// Shared error handling for CLI actions: typed errors become one clear line and an exit code,
// never a stack trace; anything else is a bug and keeps its stack.
import { ClipkitError, UsageError } from '../errors.js';

const EXIT_ERROR = 1;
export const EXIT_USAGE = 2;

export function action<A extends unknown[]>(fn: (...args: A) => Promise<void> | void) {
  return async (...args: A): Promise<void> => {
    try {
      await fn(...args);
    } catch (err) {
      if (err instanceof ClipkitError) {
        process.stderr.write(`clipkit: ${err.message}\n`);
        process.exitCode = err instanceof UsageError ? EXIT_USAGE : EXIT_ERROR;
        return;
      }
      throw err;
    }
  };
}
