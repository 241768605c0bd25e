// Throwaway databases on a PostgreSQL server, for the tests and the benchmark: each run gets its
// own, so runs never see one another's rows.
import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** A new empty database owned by the URL's role (which must be allowed to create one); its URL. */
export async function freshDatabase(url: string, label: string): Promise<string> {
  const name = `clipkit_${label}_${randomBytes(4).toString('hex')}`;
  await onConnection(url, (c) => c.query(`CREATE DATABASE ${name}`));
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Drops the database that `url` names, closing its sessions; `adminUrl` connects elsewhere. */
export async function dropDatabase(adminUrl: string, url: string): Promise<void> {
  const name = decodeURIComponent(new URL(url).pathname.slice(1));
  await onConnection(adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`));
}

/** Runs one statement on its own connection to `url`; its rows. */
export async function sql<R extends pg.QueryResultRow = pg.QueryResultRow>(url: string, text: string, params: unknown[] = []): Promise<R[]> {
  return onConnection(url, async (c) => (await c.query<R>(text, params)).rows);
}

async function onConnection<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
