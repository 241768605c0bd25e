// The photo catalog as the library sees it: one interface, one implementation per database
// engine (sqlite/, postgres/). Every method is async so that an engine reached over a network fits
// the same seam as the in-process SQLite file.
import path from 'node:path';
import { UsageError } from '../../errors.js';
import { checkIntRange, LIMITS } from '../../limits.js';
import { POSTGRES_URL, redactUrl } from './postgres/connect.js';
import { PgCatalog } from './postgres/catalog.js';
import { SqliteCatalog } from './sqlite/catalog.js';
import type { Catalog, OpenCatalogOptions } from './types.js';

export * from './types.js';

const URL_SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

/** Opens the catalog at `location`: a SQLite file path, or a postgres:// URL. */
export async function openCatalog(location: string, opts: OpenCatalogOptions = {}): Promise<Catalog> {
  if (opts.efSearch !== undefined) {
    checkIntRange('efSearch', opts.efSearch, LIMITS.efSearch);
    if (opts.index !== 'hnsw') throw new UsageError('--ef-search applies to --index hnsw only');
  }
  if (POSTGRES_URL.test(location)) return PgCatalog.open(location, opts);
  if (URL_SCHEME.test(location)) {
    throw new UsageError(`--db ${redactUrl(location)}: unsupported catalog URL; give a SQLite file path or postgres://…`);
  }
  if (opts.index === 'hnsw') throw new UsageError('--index hnsw needs a PostgreSQL catalog (--db postgres://…)');
  return SqliteCatalog.open(path.resolve(location), opts);
}
