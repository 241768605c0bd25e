// The documented range of every numeric option (README, "Limits"). Each is checked before
// anything is allocated for it, so a hostile value is a UsageError, not a heap exhaustion.
import { UsageError } from './errors.js';

export interface Range {
  min: number;
  max: number;
}

export const LIMITS = {
  /** Compute threads: the addon's pool takes at most 1024. */
  threads: { min: 1, max: 1024 },
  /** Images or texts per encoder call. */
  batchSize: { min: 1, max: 4096 },
  /** Results of one search: the similarity top-k kernel keeps at most 1024 candidates per query. */
  topK: { min: 1, max: 1024 },
  // pgvector's hnsw.ef_search accepts 1..1000.
  efSearch: { min: 1, max: 1000 },
  /** Side of a preprocessed image (resize and crop), as the preprocessing kernel accepts. */
  imageSize: { min: 1, max: 8192 },
  /** Tokens per row, start and end tokens included. */
  contextLength: { min: 2, max: 4096 },
  /** TCP port of `clipkit serve`; 0 asks the system for a free one. */
  port: { min: 0, max: 65535 },
  /** PostgreSQL import lease; the heartbeat timer (a third of it) must stay under setInterval's 2^31 ms. */
  leaseSeconds: { min: 1, max: 86400 },
  /** Labels printed per image by `classify --top`. */
  top: { min: 1, max: Number.MAX_SAFE_INTEGER },
} as const satisfies Record<string, Range>;

/** value if it is an integer in range, else a UsageError naming `name` and the range. */
export function checkIntRange(name: string, value: unknown, range: Range): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= range.min && value <= range.max) return value;
  throw new UsageError(`${name} must be an integer from ${range.min} to ${range.max}, got ${String(value)}`);
}

/** A decimal integer option string in range (no exponents, signs or fractions), else a UsageError. */
export function parseIntRange(name: string, text: string, range: Range): number {
  const n = /^\s*\d+\s*$/.test(text) ? Number(text) : Number.NaN;
  if (Number.isSafeInteger(n) && n >= range.min && n <= range.max) return n;
  throw new UsageError(`${name} must be an integer from ${range.min} to ${range.max}, got "${text}"`);
}
