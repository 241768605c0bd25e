// The PostgreSQL server of the tests: .ci/postgres.sh starts a throwaway cluster and exports its
// URLs. Without one the suites skip and print why; under CI (CI=true) a missing server fails.
import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** A superuser URL: may create databases and the vector extension. */
export const adminUrl = process.env.CLIPKIT_TEST_PG_URL;
/** A role that owns its database but may not create extensions (the bytea path). */
export const plainUrl = process.env.CLIPKIT_TEST_PG_PLAIN_URL;

/** Prints why Postgres tests are skipped, or throws under CI where they must run. */
export function skipWithoutPostgres(suite: string): boolean {
  if (adminUrl && plainUrl) return false;
  const why = `[${suite}] skipped: no PostgreSQL server (set CLIPKIT_TEST_PG_URL and CLIPKIT_TEST_PG_PLAIN_URL, e.g. via .ci/postgres.sh)`;
  if (process.env.CI === 'true') throw new Error(`${why}; CI must run them`);
  console.warn(why);
  return true;
}

/** A new empty database owned by the URL's role; returns its URL. */
export async function freshDatabase(url: string, label: string): Promise<string> {
  const name = `clipkit_${label}_${randomBytes(4).toString('hex')}`;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Runs one query against a URL on its own connection. */
export async function sql<R extends pg.QueryResultRow = pg.QueryResultRow>(url: string, text: string, params: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(text, params)).rows;
  } finally {
    await client.end();
  }
}
