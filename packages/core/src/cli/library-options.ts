// The option style shared by import, search and duplicates: --db, --model, --backend, --json.
import { InvalidArgumentError, Option, type Command } from 'commander';
import { Library, type LibraryOptions } from '../library/index.js';
import { parseIntRange, type Range } from '../limits.js';
import type { BackendName, PrecisionOption } from '../types.js';

export interface LibraryCliOptions {
  db: string;
  model?: string;
  backend: BackendName;
  /** Only on commands that load a model (import, search). */
  precision?: PrecisionOption;
  json?: boolean;
}

export function addLibraryOptions(cmd: Command): Command {
  return cmd
    .option('--db <path|url>', 'catalog: a SQLite file or postgres://user:password@host:port/database (env CLIPKIT_DB)', defaultDb())
    .option('--model <dir|repo>', "model directory, hub repo or alias (default: the catalog's model, else the hub default)")
    .addOption(new Option('--backend <name>', 'encoder backend').choices(['auto', 'onnx', 'native']).default('auto'))
    .option('--json', 'machine-readable output on stdout');
}

/** CLIPKIT_DB names the catalog when --db is not given. */
export function defaultDb(): string {
  return process.env.CLIPKIT_DB || './clipkit.db';
}

export function libraryOptions(opts: LibraryCliOptions, extra: Partial<LibraryOptions> = {}): LibraryOptions {
  return { model: opts.model, backend: opts.backend, ...(opts.precision !== undefined ? { precision: opts.precision } : {}), ...extra };
}

/** Opens the catalog, closes it whatever fn does. */
export async function withLibrary<T>(
  open: () => Promise<Library>,
  fn: (library: Library) => Promise<T>,
): Promise<T> {
  const library = await open();
  try {
    return await fn(library);
  } finally {
    await library.close();
  }
}

/** A commander parser for an integer option in `range` (the range is in --help and README). */
export function intIn(range: Range): (value: string) => number {
  return (value) => {
    try {
      return parseIntRange('value', value, range);
    } catch {
      throw new InvalidArgumentError(`must be an integer from ${range.min} to ${range.max}`);
    }
  };
}

/** A decimal number as written by hand; Number() alone also takes '' (0), '0x1' and 'Infinity'. */
const DECIMAL = /^\s*[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?\s*$/i;

export function similarity(value: string): number {
  const n = DECIMAL.test(value) ? Number(value) : Number.NaN;
  if (!Number.isFinite(n) || n <= -1 || n > 1) throw new InvalidArgumentError('must be a number in (-1, 1]');
  return n;
}
