// Connections to a PostgreSQL catalog: URL parsing (a password never reaches a message), the
// pool, and the line between errors worth a retry (the server went away or restarts) and errors
// that end the command at once with one line naming the server (bad URL, login, database).
import pg from 'pg';
import { CatalogError, CatalogUnavailableError, UsageError } from '../../../errors.js';

export const POSTGRES_URL = /^postgres(ql)?:\/\//i;

/** `postgres://user@host:port/db`: the URL fit for messages, without password or query. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    const user = u.username ? `${decodeURIComponent(u.username)}@` : '';
    return `${u.protocol}//${user}${u.host}${u.pathname}`;
  } catch {
    return url.replace(/:[^:@/]*@/, ':***@');
  }
}

export function createPool(url: string, opts: { max: number; connectTimeoutMs?: number }): pg.Pool {
  try {
    new URL(url);
  } catch (err) {
    throw new UsageError(`--db ${redactUrl(url)}: not a valid postgres:// URL`, { cause: err });
  }
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.max,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 10_000,
    idleTimeoutMillis: 30_000,
    application_name: 'clipkit',
  });
  // An idle client whose server went away emits here; the next query reconnects and reports.
  pool.on('error', () => undefined);
  return pool;
}

const TRANSIENT_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, shutting down, recovering)
  '08000', '08003', '08006', '08001', '08004',
  '40001', // serialization_failure
  '40P01', // deadlock_detected
]);

/** True for failures that a retry a moment later can get past. */
export function isTransient(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  if (e.code !== undefined && TRANSIENT_CODES.has(e.code)) return true;
  const m = e.message ?? '';
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Client was closed and is not queryable|terminating connection/i.test(m);
}

/** The one line a user sees for a failure of the server or the connection to it. */
export function describeFailure(err: unknown, where: string): Error {
  const e = err as { code?: string; message?: string };
  const code = e.code ?? '';
  if (code === '28P01' || code === '28000') {
    return new CatalogUnavailableError(`PostgreSQL server ${where} refused the login: ${e.message}`, undefined, { cause: err });
  }
  // The server is up but takes no connections to this database now (too many, or an admin
  // closed it): the catalog is unavailable, as when the server is down.
  if (code === '53300' || (code === '55000' && /not currently accepting connections/i.test(e.message ?? ''))) {
    return new CatalogUnavailableError(`PostgreSQL server ${where}: ${e.message}`, undefined, { cause: err });
  }
  if (code === '3D000') return new CatalogUnavailableError(`PostgreSQL server ${where}: ${e.message}`, undefined, { cause: err });
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new CatalogUnavailableError(`cannot reach PostgreSQL server ${where}: unknown host`, undefined, { cause: err });
  }
  if (isTransient(err)) {
    return new CatalogUnavailableError(`cannot reach PostgreSQL server ${where}: ${code || e.message}`, undefined, { cause: err });
  }
  // Any other answer of the server (a permission, a constraint, a full disk) is the catalog's.
  if (e.code !== undefined && /^[0-9A-Z]{5}$/.test(code)) {
    return new CatalogError(`PostgreSQL server ${where}: ${e.message}`, undefined, undefined, { cause: err });
  }
  return err instanceof Error ? err : new Error(String(err));
}

export interface RetryPolicy {
  /** How long transient failures are retried before the command gives up (0: never). */
  seconds: number;
}

/**
 * Runs fn, retrying transient failures with exponential backoff (0.2 s doubling to 5 s) for up
 * to policy.seconds; then (or at once for other failures) throws the one-line error.
 */
export async function withRetry<T>(fn: () => Promise<T>, policy: RetryPolicy, where: string): Promise<T> {
  const deadline = Date.now() + policy.seconds * 1000;
  let delay = 200;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (!isTransient(err) || Date.now() + delay > deadline) throw describeFailure(err, where);
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 5000);
    }
  }
}
