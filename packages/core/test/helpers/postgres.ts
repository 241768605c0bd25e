// The PostgreSQL server of the tests: .ci/postgres.sh starts a throwaway cluster and exports its
// URLs. Without one the suites skip and print why; under CI (CI=true) a missing server fails.
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
