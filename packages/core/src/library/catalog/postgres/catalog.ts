// The catalog in PostgreSQL (node-postgres), shared by many importers on many machines. Each
// batch lands in one transaction as in SQLite, so a killed importer or a server stopped with
// `-m immediate` leaves every file with its row and whole embedding, or nothing. Embeddings go
// in and come out by binary COPY. Connection failures are retried with backoff (withRetry), and
// every write is an idempotent upsert, so a retried batch lands once.
import os from 'node:os';
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { CatalogBusyError, CatalogMismatchError, UsageError } from '../../../errors.js';
import { checkIntRange, LIMITS } from '../../../limits.js';
import {
  BYTES_PER_VALUE,
  plainArrays,
  type BatchEntry,
  type Catalog,
  type CatalogCounts,
  type CatalogFile,
  type FileRef,
  type QueuedFile,
  type CatalogModel,
  type CatalogStorage,
  type DumpedContent,
  type QueueStatus,
  type EmbeddingMatrix,
  type FileError,
  type MatrixAllocator,
  type ModelIdentity,
  type OpenCatalogOptions,
  type StoreFormat,
  type StoredFile,
  type WorkQueue,
  type WriterLease,
} from '../types.js';
import type { Precision } from '../../../types.js';
import { checkModelIdentity, modelFromRow, type ModelRow } from '../identity.js';
import { createPool, describeFailure, isTransient, redactUrl, withRetry, type RetryPolicy } from './connect.js';
import { CopyRowReader, encodeCopyRows, halfvecToF16, vectorToWire } from './copy.js';
import { hnswBuildMemory } from './hnsw-memory.js';
import { migrations, SCHEMA_VERSION, type VectorColumn } from './schema.js';

/** pgvector's first release with halfvec. */
const MIN_VECTOR_VERSION = [0, 7];
/** Serialises schema migrations of concurrent first opens (any constant of our own). */
const MIGRATION_LOCK = 0x636c6970;

/** How the catalog stores vectors, and why (for `clipkit info --db`). */
export interface VectorSupport {
  column: VectorColumn;
  /** pgvector's version when it is installed in the database. */
  extension: string | null;
  reason: string;
}

export class PgCatalog implements Catalog {
  readonly workQueue: PgWorkQueue;
  readonly storage: CatalogStorage;
  private readonly retry: RetryPolicy;
  private bound: CatalogModel | null = null;
  private hnswReady = false;

  private constructor(
    readonly path: string,
    private readonly pool: pg.Pool,
    readonly vectors: VectorSupport,
    private readonly opts: OpenCatalogOptions,
  ) {
    this.retry = { seconds: opts.retrySeconds ?? 30 };
    this.storage = { engine: 'postgres', vectors: vectors.column, detail: vectors.reason };
    this.workQueue = new PgWorkQueue(this);
  }

  /** Connects, creates the schema (and pgvector, where allowed) on first use, migrates. */
  static async open(url: string, opts: OpenCatalogOptions = {}): Promise<PgCatalog> {
    const where = redactUrl(url);
    const pool = createPool(url, { max: 4 });
    try {
      const vectors = await withRetry(() => prepare(pool, where, opts), { seconds: 0 }, where);
      if (opts.index === 'hnsw' && vectors.column !== 'halfvec') {
        throw new UsageError(`${where}: --index hnsw needs pgvector in the database (${vectors.reason})`);
      }
      return new PgCatalog(where, pool, vectors, opts);
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.workQueue.stop();
    await this.pool.end().catch(() => undefined);
  }

  /** Runs fn on one pooled connection, retrying the whole of it on a lost connection. */
  run<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    return withRetry(async () => {
      const c = await this.pool.connect();
      let failure: Error | undefined;
      // A connection that breaks between two statements emits 'error' on the client (the pool
      // listens only while it is idle); unheard, that event would end the process.
      const onError = (err: Error) => (failure = err);
      c.on('error', onError);
      try {
        return await fn(c);
      } catch (err) {
        // A connection that broke is dropped, not handed to the next query.
        if (isTransient(err)) failure ??= err as Error;
        throw err;
      } finally {
        c.off('error', onError);
        c.release(failure);
      }
    }, this.retry, this.path);
  }

  /** fn inside BEGIN … COMMIT on one connection, the whole transaction retried on a lost connection. */
  tx<T>(fn: (c: pg.PoolClient) => Promise<T>, isolation = 'READ COMMITTED'): Promise<T> {
    return this.run(async (c) => {
      await c.query(`BEGIN ISOLATION LEVEL ${isolation}`);
      try {
        const out = await fn(c);
        await c.query('COMMIT');
        return out;
      } catch (err) {
        await c.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  query<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<pg.QueryResult<R>> {
    return this.run((c) => c.query<R>(sql, params));
  }

  /** `generation:appends` (see schema.ts). */
  async changeToken(): Promise<string> {
    const { rows } = await this.query<{ key: string; value: string }>(
      `SELECT key, value FROM clipkit.meta WHERE key IN ('generation', 'appends')`,
    );
    const meta = new Map(rows.map((r) => [r.key, r.value]));
    return `${meta.get('generation')}:${meta.get('appends')}`;
  }

  async embeddingsAdded(since: string, now: string, alloc: MatrixAllocator = plainArrays): Promise<EmbeddingMatrix | null> {
    const [g0, a0] = since.split(':');
    const [g1, a1] = now.split(':');
    if (g0 !== g1 || a0 === undefined || a1 === undefined || !(Number(a1) > Number(a0))) return null;
    return this.loadEmbeddings(`c.batch_seq > ${Math.trunc(Number(a0))}`, alloc);
  }

  async model(): Promise<CatalogModel | null> {
    const { rows } = await this.query<ModelRow>('SELECT * FROM clipkit.model');
    const row = rows[0];
    if (!row) return null;
    return modelFromRow(row);
  }

  async checkModel(model: ModelIdentity, store?: StoreFormat): Promise<void> {
    if (store === 'f32') {
      throw new UsageError(`${this.path}: a PostgreSQL catalog stores f16 embeddings (${this.vectors.column}); drop --store f32`);
    }
    checkModelIdentity(await this.model(), model, this.path);
  }

  async bindModel(model: ModelIdentity, store?: StoreFormat): Promise<CatalogModel> {
    await this.checkModel(model, store);
    return this.tx(async (c) => {
      // Two importers binding the same empty catalog at once: the second waits, then sees the row.
      await c.query('LOCK TABLE clipkit.model IN EXCLUSIVE MODE');
      const { rows } = await c.query<ModelRow>('SELECT * FROM clipkit.model');
      const current = rows[0];
      if (!current) {
        await c.query(
          'INSERT INTO clipkit.model (singleton, model_id, projection_dim, config_hash, store, model_dir, weights_sha256) VALUES (1, $1, $2, $3, $4, $5, $6)',
          [model.id, model.projectionDim, model.configHash, 'f16', model.dir, model.weightsHash ?? null],
        );
        if (this.vectors.column === 'halfvec') {
          await c.query(`ALTER TABLE clipkit.contents ALTER COLUMN embedding TYPE halfvec(${model.projectionDim})`);
        }
        return { ...model, store: 'f16' as const };
      }
      const bound = modelFromRow(current);
      checkModelIdentity(bound, model, this.path); // again, under the lock
      const dir = model.dir ?? bound.dir;
      const weightsHash = bound.weightsHash ?? model.weightsHash ?? null;
      if (dir !== bound.dir || weightsHash !== bound.weightsHash) {
        await c.query('UPDATE clipkit.model SET model_dir = $1, weights_sha256 = $2', [dir, weightsHash]);
      }
      return { ...bound, dir, weightsHash };
    });
  }

  async file(path: string): Promise<StoredFile | undefined> {
    const { rows } = await this.query<{ path: string; size: string; mtime_ms: number; content_id: number; missing: boolean }>(
      'SELECT path, size, mtime_ms, content_id, missing FROM clipkit.files WHERE path = $1',
      [path],
    );
    const row = rows[0];
    if (!row) return undefined;
    return { path: row.path, size: Number(row.size), mtimeMs: row.mtime_ms, contentId: row.content_id, missing: row.missing };
  }

  async contentId(hash: string): Promise<number | undefined> {
    const { rows } = await this.query<{ id: number }>('SELECT id FROM clipkit.contents WHERE hash = $1', [hash]);
    return rows[0]?.id;
  }

  async writeBatch(entries: readonly BatchEntry[]): Promise<void> {
    // The model never changes once bound: one look per catalog, not one per batch.
    this.bound ??= await this.model();
    const model = this.bound;
    if (!model) throw new UsageError('catalog has no model recorded; bind one before writing');
    const expectedBytes = model.projectionDim * BYTES_PER_VALUE.f16;
    const contents: Array<[string, string, string | null, string | null, Uint8Array | null, Precision | null]> = [];
    for (const entry of entries) {
      if ('contentId' in entry) continue;
      if ('embedding' in entry.content) {
        const { hash, embedding } = entry.content;
        if (embedding.byteLength !== expectedBytes) {
          throw new RangeError(`embedding for ${hash} has ${embedding.byteLength} bytes, expected ${expectedBytes}`);
        }
        contents.push([hash, 'ok', null, null, vectorToWire(embedding, this.vectors.column), entry.content.precision ?? 'fp32']);
      } else {
        const { hash, error } = entry.content;
        contents.push([hash, 'error', error.code, error.message, null, null]);
      }
    }
    const linked = entries.flatMap((e) => ('contentId' in e ? [e.contentId] : []));
    const payload = contents.length > 0 ? encodeCopyRows(['text', 'text', 'text', 'text', 'raw', 'text'], contents) : null;
    const worker = this.workQueue.workerId;
    await this.tx(async (c) => {
      const ids = new Map<string, number>();
      if (payload) {
        await c.query(
          `CREATE TEMP TABLE IF NOT EXISTS clipkit_staging (hash text, status text, error_code text, error text, embedding ${this.vectorType(model.projectionDim)}, precision text) ON COMMIT DELETE ROWS`,
        );
        await copyIn(c, 'COPY clipkit_staging FROM STDIN (FORMAT binary)', payload);
        // The row lock on 'appends' orders batch commits: stamps grow in commit order, so a cache
        // that has seen stamp s has seen every content stamped ≤ s. Held for the last few ms only.
        const { rows: stamp } = await c.query<{ value: string }>(
          `UPDATE clipkit.meta SET value = (value::bigint + 1)::text WHERE key = 'appends' RETURNING value`,
        );
        const { rows } = await c.query<{ id: number; hash: string }>(
          `INSERT INTO clipkit.contents (hash, status, error_code, error, embedding, precision, batch_seq)
             SELECT hash, status, error_code, error, embedding, precision, $1 FROM clipkit_staging
           ON CONFLICT (hash) DO UPDATE SET status = excluded.status, error_code = excluded.error_code,
             error = excluded.error, embedding = excluded.embedding, precision = excluded.precision,
             -- a stored embedding keeps its stamp: a retried batch must not add its rows to caches twice
             batch_seq = CASE WHEN clipkit.contents.status = 'ok' THEN clipkit.contents.batch_seq ELSE excluded.batch_seq END
           RETURNING id, hash`,
          [stamp[0]?.value],
        );
        for (const r of rows) ids.set(r.hash, r.id);
        await c.query('DELETE FROM clipkit.content_claims WHERE hash IN (SELECT hash FROM clipkit_staging)');
      }
      // A link to a content none of whose files is present brings it back into the search matrix
      // without a new stamp: that is a change a cache must reload for.
      let revives = false;
      if (linked.length > 0) {
        const { rows: absent } = await c.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM clipkit.contents c WHERE c.id = ANY($1::int[]) AND c.status = 'ok'
             AND NOT EXISTS (SELECT 1 FROM clipkit.files f WHERE f.content_id = c.id AND NOT f.missing)`,
          [linked],
        );
        revives = (absent[0]?.n ?? 0) > 0;
      }
      const paths: string[] = [];
      const sizes: number[] = [];
      const mtimes: number[] = [];
      const contentIds: number[] = [];
      for (const entry of entries) {
        const id = 'contentId' in entry ? entry.contentId : (ids.get(entry.content.hash) as number);
        for (const f of entry.files) {
          paths.push(f.path);
          sizes.push(f.size);
          mtimes.push(f.mtimeMs);
          contentIds.push(id);
        }
      }
      if (paths.length > 0) {
        await c.query(
          `INSERT INTO clipkit.files (path, size, mtime_ms, content_id, missing)
             SELECT p, s, m, c, false FROM unnest($1::text[], $2::bigint[], $3::float8[], $4::int[]) AS u(p, s, m, c)
           ON CONFLICT (path) DO UPDATE SET size = excluded.size, mtime_ms = excluded.mtime_ms,
             content_id = excluded.content_id, missing = false`,
          [paths, sizes, mtimes, contentIds],
        );
        const { rowCount } = await c.query('DELETE FROM clipkit.queue WHERE path = ANY($1::text[])', [paths]);
        if (worker && rowCount) await c.query('UPDATE clipkit.workers SET done = done + $2 WHERE id = $1', [worker, rowCount]);
      }
      if (revives) await bumpGeneration(c);
    });
  }

  async reconcile(root: string, seen: ReadonlySet<string>, prune: boolean): Promise<number> {
    const [prefix, upper] = prefixRange(root);
    return this.tx(async (c) => {
      const { rows } = await c.query<{ id: number; path: string; missing: boolean }>(
        'SELECT id, path, missing FROM clipkit.files WHERE path >= $1 AND path < $2',
        [prefix, upper],
      );
      const gone = rows.filter((r) => !seen.has(r.path) && (prune || !r.missing)).map((r) => r.id);
      if (gone.length > 0) {
        await c.query(prune ? 'DELETE FROM clipkit.files WHERE id = ANY($1::int[])' : 'UPDATE clipkit.files SET missing = true WHERE id = ANY($1::int[])', [gone]);
      }
      const orphans = await c.query(
        'DELETE FROM clipkit.contents c WHERE NOT EXISTS (SELECT 1 FROM clipkit.files f WHERE f.content_id = c.id)',
      );
      if (gone.length > 0 || (orphans.rowCount ?? 0) > 0) await bumpGeneration(c);
      return gone.length;
    });
  }

  async counts(): Promise<CatalogCounts> {
    const { rows } = await this.query<CatalogCounts>(
      `SELECT
         (SELECT count(*) FROM clipkit.files WHERE NOT missing)::int AS files,
         (SELECT count(*) FROM clipkit.files WHERE missing)::int AS missing,
         (SELECT count(*) FROM clipkit.contents)::int AS contents,
         (SELECT count(*) FROM clipkit.files f JOIN clipkit.contents c ON c.id = f.content_id
            WHERE NOT f.missing AND c.status = 'ok')::int AS ok,
         (SELECT count(*) FROM clipkit.files f JOIN clipkit.contents c ON c.id = f.content_id
            WHERE NOT f.missing AND c.status = 'error')::int AS errors`,
    );
    return rows[0] as CatalogCounts;
  }

  async errors(): Promise<FileError[]> {
    const { rows } = await this.query<FileError>(
      `SELECT f.path AS path, c.error_code AS code, c.error AS message FROM clipkit.files f
       JOIN clipkit.contents c ON c.id = f.content_id WHERE NOT f.missing AND c.status = 'error' ORDER BY f.path`,
    );
    return rows;
  }

  async precisions(): Promise<Partial<Record<Precision, number>>> {
    const { rows } = await this.query<{ precision: Precision; n: number }>(
      `SELECT c.precision AS precision, count(*)::int AS n FROM clipkit.files f JOIN clipkit.contents c ON c.id = f.content_id
       WHERE NOT f.missing AND c.status = 'ok' GROUP BY c.precision ORDER BY c.precision DESC`,
    );
    return Object.fromEntries(rows.map((r) => [r.precision, r.n]));
  }

  async files(contentIds: Iterable<number>): Promise<Map<number, FileRef[]>> {
    const ids = Array.from(contentIds);
    const out = new Map<number, FileRef[]>();
    if (ids.length === 0) return out;
    const { rows } = await this.query<{ id: number; content_id: number; path: string }>(
      'SELECT id, content_id, path FROM clipkit.files WHERE content_id = ANY($1::int[]) AND NOT missing ORDER BY path',
      [ids],
    );
    for (const r of rows) {
      const ref = { id: r.id, path: r.path };
      const list = out.get(r.content_id);
      if (list) list.push(ref);
      else out.set(r.content_id, [ref]);
    }
    return out;
  }

  async fileById(id: number): Promise<CatalogFile | undefined> {
    if (!Number.isSafeInteger(id) || id < 1 || id > 0x7fffffff) return undefined;
    const { rows } = await this.query<{ id: number; path: string; size: string; mtime_ms: number; content_id: number; hash: string; status: string }>(
      `SELECT f.id, f.path, f.size, f.mtime_ms, f.content_id, c.hash, c.status FROM clipkit.files f
       JOIN clipkit.contents c ON c.id = f.content_id WHERE f.id = $1 AND NOT f.missing`,
      [id],
    );
    const row = rows[0];
    if (!row) return undefined;
    return { id: row.id, path: row.path, size: Number(row.size), mtimeMs: row.mtime_ms, contentId: row.content_id, hash: row.hash, embedded: row.status === 'ok' };
  }

  async addRoot(root: string): Promise<void> {
    await this.query('INSERT INTO clipkit.roots (path) VALUES ($1) ON CONFLICT (path) DO NOTHING', [root]);
  }

  async roots(): Promise<string[]> {
    const { rows } = await this.query<{ path: string }>('SELECT path FROM clipkit.roots ORDER BY path');
    return rows.map((r) => r.path);
  }

  async embeddings(alloc: MatrixAllocator = plainArrays): Promise<EmbeddingMatrix> {
    return this.loadEmbeddings('true', alloc);
  }

  /** Present contents' embeddings matching `filter`, by binary COPY, ordered by id. */
  private async loadEmbeddings(filter: string, alloc: MatrixAllocator): Promise<EmbeddingMatrix> {
    const model = await this.model();
    if (!model) throw new UsageError(`catalog ${this.path} is empty: run \`clipkit import\` first`);
    const dim = model.projectionDim;
    const bytesPerRow = dim * BYTES_PER_VALUE.f16;
    const where = `${filter} AND c.status = 'ok' AND EXISTS (SELECT 1 FROM clipkit.files f WHERE f.content_id = c.id AND NOT f.missing)`;
    // One snapshot: the count and the rows agree while importers commit.
    return this.tx(async (c) => {
      const { rows: counted } = await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM clipkit.contents c WHERE ${where}`);
      const rows = counted[0]?.n ?? 0;
      const data = alloc(rows * dim, 'f16');
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      const contentIds = new Int32Array(rows);
      let i = 0;
      const reader = new CopyRowReader(this.vectors.column, bytesPerRow, (id, f16) => {
        if (i >= rows) throw new RangeError('more embedding rows than counted in the same snapshot');
        bytes.set(f16, i * bytesPerRow);
        contentIds[i++] = id;
      });
      await copyOut(c, `COPY (SELECT c.id, c.embedding FROM clipkit.contents c WHERE ${where} ORDER BY c.id) TO STDOUT (FORMAT binary)`, (chunk) =>
        reader.push(chunk),
      );
      if (i !== rows) throw new CatalogMismatchError(`read ${i} embeddings, expected ${rows}`, this.path);
      return { contentIds, data, rows, dim, store: 'f16' as const };
    }, 'REPEATABLE READ');
  }

  async integrityCheck(): Promise<string> {
    const { rows } = await this.query<{ bad: number; orphans: number }>(
      `SELECT
         (SELECT count(*) FROM clipkit.contents WHERE (status = 'ok') <> (embedding IS NOT NULL))::int AS bad,
         (SELECT count(*) FROM clipkit.files f WHERE NOT EXISTS (SELECT 1 FROM clipkit.contents c WHERE c.id = f.content_id))::int AS orphans`,
    );
    const r = rows[0] as { bad: number; orphans: number };
    return r.bad === 0 && r.orphans === 0 ? 'ok' : `${r.bad} contents inconsistent, ${r.orphans} files without content`;
  }

  async dump(afterId: number, limit: number): Promise<DumpedContent[]> {
    const model = (this.bound ??= await this.model());
    const bytesPerRow = (model?.projectionDim ?? 0) * BYTES_PER_VALUE.f16;
    const { rows } = await this.query<{
      id: number; hash: string; status: string; error_code: string | null; error: string | null; precision: Precision | null;
      embedding: Buffer | null; files: Array<{ path: string; size: number; mtime_ms: number }> | null;
    }>(
      `SELECT c.id, c.hash, c.status, c.error_code, c.error, c.precision,
              ${this.vectors.column === 'halfvec' ? 'halfvec_send(c.embedding)' : 'c.embedding'} AS embedding,
              (SELECT json_agg(json_build_object('path', f.path, 'size', f.size, 'mtime_ms', f.mtime_ms) ORDER BY f.path)
                 FROM clipkit.files f WHERE f.content_id = c.id AND NOT f.missing) AS files
       FROM clipkit.contents c WHERE c.id > $1 ORDER BY c.id LIMIT $2`,
      [afterId, limit],
    );
    const reader = (wire: Buffer): Uint8Array => (this.vectors.column === 'halfvec' ? halfvecToF16(wire, bytesPerRow) : new Uint8Array(wire));
    return rows.map((r) => ({
      id: r.id,
      hash: r.hash,
      embedding: r.embedding ? reader(r.embedding) : null,
      precision: r.precision,
      error: r.status === 'error' ? { code: r.error_code ?? 'ERROR', message: r.error ?? '' } : null,
      files: (r.files ?? []).map((f) => ({ path: f.path, size: Number(f.size), mtimeMs: f.mtime_ms })),
    }));
  }

  /** PostgreSQL needs no writer lock: importers share the work through workQueue instead. */
  async acquireWriter(): Promise<WriterLease> {
    return { release: async () => undefined };
  }

  /** The k nearest contents by the server's HNSW index (inner product of unit vectors = cosine). */
  async nearest(query: Float32Array, k: number, efSearch = this.opts.efSearch): Promise<Array<{ contentId: number; score: number }>> {
    if (this.opts.index !== 'hnsw') throw new UsageError('nearest() needs a catalog opened with index: hnsw');
    // Built on first search, not at open: an import into an indexed table pays per row.
    if (!this.hnswReady) await this.ensureHnsw();
    this.hnswReady = true;
    const literal = `[${Array.from(query, (v) => (Number.isFinite(v) ? v : 0)).join(',')}]`;
    return this.tx(async (c) => {
      // pgvector's default ef_search (40) trades too much recall away for top-k lists of photos.
      const ef = efSearch ?? Math.min(LIMITS.efSearch.max, Math.max(100, k * 4));
      checkIntRange('efSearch', ef, LIMITS.efSearch);
      await c.query(`SET LOCAL hnsw.ef_search = ${ef}`);
      await c.query(`SET LOCAL hnsw.iterative_scan = relaxed_order`);
      const { rows } = await c.query<{ id: number; score: number }>(
        `SELECT c.id, -(c.embedding <#> $1::halfvec) AS score FROM clipkit.contents c
         WHERE c.status = 'ok' AND EXISTS (SELECT 1 FROM clipkit.files f WHERE f.content_id = c.id AND NOT f.missing)
         ORDER BY c.embedding <#> $1::halfvec LIMIT $2`,
        [literal, k],
      );
      return rows.map((r) => ({ contentId: r.id, score: Number(r.score) }));
    });
  }

  /** Builds the HNSW index when absent; returns the seconds it took (0 when it existed). */
  async ensureHnsw(): Promise<number> {
    if (this.vectors.column !== 'halfvec') {
      throw new UsageError(`${this.path}: --index hnsw needs pgvector in the database (${this.vectors.reason})`);
    }
    const model = await this.model();
    if (!model) return 0; // an empty catalog has no dimension yet: built on first search after import
    const { rows } = await this.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_indexes WHERE schemaname = 'clipkit' AND indexname = 'contents_hnsw'`,
    );
    if ((rows[0]?.n ?? 0) > 0) return 0;
    return this.tx(async (c) => {
      const { rows: sized } = await c.query<{ n: number; current: string }>(
        `SELECT (SELECT count(*) FROM clipkit.contents WHERE embedding IS NOT NULL)::int AS n,
                pg_size_bytes(current_setting('maintenance_work_mem'))::text AS current`,
      );
      const { n = 0, current = '0' } = sized[0] ?? {};
      const kB = Math.ceil(hnswBuildMemory(n, model.projectionDim, Number(current)) / 1024);
      await c.query(`SET LOCAL maintenance_work_mem = '${kB}kB'`);
      const t0 = performance.now();
      await c.query('CREATE INDEX IF NOT EXISTS contents_hnsw ON clipkit.contents USING hnsw (embedding halfvec_ip_ops)');
      return (performance.now() - t0) / 1000;
    });
  }

  private vectorType(dim: number): string {
    return this.vectors.column === 'halfvec' ? `halfvec(${dim})` : 'bytea';
  }
}

/** Heartbeats, claims and settling for PostgreSQL importers (see WorkQueue). */
class PgWorkQueue implements WorkQueue {
  workerId: string | null = null;
  private root = '';
  private range: [string, string] = ['', ''];
  private leaseSeconds = 60;
  private timer: NodeJS.Timeout | null = null;
  private beating: Promise<unknown> = Promise.resolve();

  constructor(private readonly catalog: PgCatalog) {}

  async begin(root: string, leaseSeconds: number): Promise<void> {
    // The library API reaches here unchecked: Infinity or 1e-9 would make the heartbeat below
    // fire every millisecond (setInterval clamps what it cannot take).
    checkIntRange('leaseSeconds', leaseSeconds, LIMITS.leaseSeconds);
    this.root = root;
    this.range = prefixRange(root);
    this.leaseSeconds = leaseSeconds;
    this.workerId = `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    await this.catalog.query('INSERT INTO clipkit.workers (id, host, pid, root) VALUES ($1, $2, $3, $4)', [
      this.workerId, os.hostname(), process.pid, root,
    ]);
    this.timer = setInterval(() => {
      this.beating = this.renew().catch(() => undefined); // a missed beat is retried by the next
    }, (leaseSeconds * 1000) / 3);
    this.timer.unref();
  }

  private async renew(): Promise<void> {
    const params = [this.workerId, this.leaseSeconds];
    await this.catalog.tx(async (c) => {
      await c.query(
        `UPDATE clipkit.queue SET lease_until = now() + make_interval(secs => $2) WHERE worker = $1 AND state = 'claimed'`,
        params,
      );
      await c.query(`UPDATE clipkit.content_claims SET lease_until = now() + make_interval(secs => $2) WHERE worker = $1`, params);
      await c.query('UPDATE clipkit.workers SET last_seen = now() WHERE id = $1', [this.workerId]);
    });
  }

  async enqueue(files: readonly QueuedFile[]): Promise<{ changed: number; revived: number }> {
    if (files.length === 0) return { changed: 0, revived: 0 };
    const { rows } = await this.catalog.query<{ changed: number; revived: number }>(
      `WITH u AS (SELECT * FROM unnest($1::text[], $2::bigint[], $3::float8[], $4::bytea[]) AS u(path, size, mtime_ms, fs_path)),
       changed AS (
         SELECT u.* FROM u LEFT JOIN clipkit.files f ON f.path = u.path
         WHERE f.path IS NULL OR f.size <> u.size OR f.mtime_ms <> u.mtime_ms),
       revived AS (
         UPDATE clipkit.files f SET missing = false FROM u
         WHERE f.path = u.path AND f.size = u.size AND f.mtime_ms = u.mtime_ms AND f.missing RETURNING 1),
       queued AS (
         INSERT INTO clipkit.queue (path, size, mtime_ms, fs_path) SELECT path, size, mtime_ms, fs_path FROM changed
         ON CONFLICT (path) DO UPDATE SET size = excluded.size, mtime_ms = excluded.mtime_ms, fs_path = excluded.fs_path,
           state = 'pending', worker = NULL, lease_until = NULL
         WHERE (clipkit.queue.size, clipkit.queue.mtime_ms) IS DISTINCT FROM (excluded.size, excluded.mtime_ms)
         RETURNING 1)
       SELECT (SELECT count(*) FROM changed)::int AS changed, (SELECT count(*) FROM revived)::int AS revived,
              (SELECT count(*) FROM queued)::int AS queued`,
      [files.map((f) => f.path), files.map((f) => f.size), files.map((f) => f.mtimeMs), files.map((f) => f.fsPath)],
    );
    const r = rows[0] as { changed: number; revived: number };
    if (r.revived > 0) await this.catalog.tx((c) => bumpGeneration(c));
    return r;
  }

  async claim(max: number): Promise<QueuedFile[]> {
    const { rows } = await this.catalog.query<{ path: string; size: string; mtime_ms: number; fs_path: Buffer }>(
      `UPDATE clipkit.queue q SET state = 'claimed', worker = $1, lease_until = now() + make_interval(secs => $2)
       WHERE q.path IN (
         SELECT path FROM clipkit.queue
         WHERE path >= $3 AND path < $4 AND (state = 'pending' OR lease_until < now())
         ORDER BY id LIMIT $5 FOR UPDATE SKIP LOCKED)
       RETURNING q.path, q.size, q.mtime_ms, q.fs_path`,
      [this.workerId, this.leaseSeconds, this.range[0], this.range[1], max],
    );
    return rows
      .map((r) => ({ path: r.path, size: Number(r.size), mtimeMs: r.mtime_ms, fsPath: r.fs_path }))
      .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  async outstanding(): Promise<{ files: number; waitSeconds: number }> {
    const { rows } = await this.catalog.query<{ n: number; wait: number | null }>(
      `SELECT count(*)::int AS n, extract(epoch FROM min(lease_until) - now())::float8 AS wait FROM clipkit.queue
       WHERE path >= $1 AND path < $2 AND worker IS DISTINCT FROM $3`,
      [this.range[0], this.range[1], this.workerId],
    );
    const r = rows[0] as { n: number; wait: number | null };
    return { files: r.n, waitSeconds: Math.max(0, r.wait ?? 0) };
  }

  async claimContent(hash: string): Promise<{ existing: number | undefined; claimed: boolean }> {
    // Two statements in one simple-protocol message (so no bound parameters; the hash is ours,
    // 64 hex digits, and the worker id is quoted): the per-file look-up, claim and second look
    // are three round trips otherwise, and on a busy 2-core importer each costs milliseconds.
    // Each statement takes its own snapshot (READ COMMITTED), so the second look sees a content
    // committed after the claim, as two separate queries would.
    if (!/^[0-9a-f]{64}$/.test(hash)) throw new RangeError(`claimContent: not a sha256 hex digest: ${hash}`);
    const worker = this.workerId;
    if (worker === null) throw new Error('claimContent before begin(): this importer has no worker id');
    const results = (await this.catalog.run((c) =>
      c.query(
        `INSERT INTO clipkit.content_claims (hash, worker, lease_until)
           SELECT '${hash}', ${c.escapeLiteral(worker)}, now() + make_interval(secs => ${this.leaseSeconds})
           WHERE NOT EXISTS (SELECT 1 FROM clipkit.contents WHERE hash = '${hash}')
         ON CONFLICT (hash) DO UPDATE SET worker = excluded.worker, lease_until = excluded.lease_until
         WHERE clipkit.content_claims.worker = excluded.worker OR clipkit.content_claims.lease_until < now();
         SELECT id FROM clipkit.contents WHERE hash = '${hash}'`,
      ),
    )) as unknown as [pg.QueryResult, pg.QueryResult<{ id: number }>];
    const [claim, look] = results;
    return { existing: look.rows[0]?.id, claimed: (claim.rowCount ?? 0) > 0 };
  }

  async defer(path: string): Promise<void> {
    // Claimable again in a second; by then the other importer has usually stored the content.
    await this.catalog.query(
      `UPDATE clipkit.queue SET state = 'waiting', worker = NULL, lease_until = now() + interval '1 second' WHERE path = $1`,
      [path],
    );
  }

  async settle(paths: readonly string[], failed: number): Promise<void> {
    if (paths.length === 0) return;
    await this.catalog.tx(async (c) => {
      const { rowCount } = await c.query('DELETE FROM clipkit.queue WHERE path = ANY($1::text[])', [paths]);
      await c.query('UPDATE clipkit.workers SET done = done + $2, failed = failed + $3 WHERE id = $1', [
        this.workerId, (rowCount ?? 0) - failed, failed,
      ]);
    });
  }

  async status(): Promise<QueueStatus> {
    const { rows: q } = await this.catalog.query<{ pending: number; claimed: number; waiting: number }>(
      `SELECT count(*) FILTER (WHERE state = 'pending' OR (state = 'claimed' AND lease_until < now()))::int AS pending,
              count(*) FILTER (WHERE state = 'claimed' AND lease_until >= now())::int AS claimed,
              count(*) FILTER (WHERE state = 'waiting')::int AS waiting
       FROM clipkit.queue`,
    );
    const { rows: w } = await this.catalog.query<{
      id: string; root: string; claimed: number; done: number; failed: number; finished: boolean; ago: number; live: boolean;
    }>(
      `SELECT w.id, w.root, w.done, w.failed, w.finished,
              extract(epoch FROM now() - w.last_seen)::float8 AS ago,
              (SELECT count(*) FROM clipkit.queue q WHERE q.worker = w.id AND q.state = 'claimed' AND q.lease_until >= now())::int AS claimed,
              EXISTS (SELECT 1 FROM clipkit.queue q WHERE q.worker = w.id AND q.lease_until >= now())
                OR now() - w.last_seen < interval '2 minutes' AS live
       FROM clipkit.workers w ORDER BY w.started`,
    );
    return {
      ...(q[0] as { pending: number; claimed: number; waiting: number }),
      workers: w.map((r) => ({
        id: r.id,
        root: r.root,
        claimed: r.claimed,
        done: r.done,
        failed: r.failed,
        state: r.finished ? 'finished' : r.live ? 'running' : 'gone',
        lastSeenSecondsAgo: Math.round(r.ago),
      })),
    };
  }

  async end(): Promise<void> {
    await this.stop();
    if (this.workerId) {
      await this.catalog.query('UPDATE clipkit.workers SET finished = true, last_seen = now() WHERE id = $1', [this.workerId]);
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.beating;
  }
}

/** [prefix, upper): every path under root sorts in it (byte order, COLLATE "C"). */
function prefixRange(root: string): [string, string] {
  const prefix = root.endsWith('/') ? root : `${root}/`;
  return [prefix, `${prefix.slice(0, -1)}0`];
}

async function bumpGeneration(c: pg.PoolClient): Promise<void> {
  await c.query(`UPDATE clipkit.meta SET value = (value::bigint + 1)::text WHERE key = 'generation'`);
}

function copyIn(c: pg.PoolClient, sql: string, payload: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const stream = c.query(copyFrom(sql));
    stream.on('error', reject);
    stream.on('finish', () => resolve());
    stream.end(payload);
  });
}

function copyOut(c: pg.PoolClient, sql: string, onChunk: (chunk: Buffer) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const stream = c.query(copyTo(sql));
    stream.on('data', (chunk: Buffer) => {
      try {
        onChunk(chunk);
      } catch (err) {
        stream.destroy(err as Error);
      }
    });
    stream.on('error', reject);
    stream.on('end', () => resolve());
  });
}

/**
 * Schema and extension on first open; the vector column the catalog uses, and why. A catalog
 * that is up to date is only read (search and serve may run as a role that cannot write).
 */
async function prepare(pool: pg.Pool, where: string, opts: OpenCatalogOptions): Promise<VectorSupport> {
  const c = await pool.connect();
  const onError = () => undefined; // a break between statements fails the next one instead
  c.on('error', onError);
  try {
    const { rows: found } = await c.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'clipkit' AND table_name = 'meta'`,
    );
    if ((found[0]?.n ?? 0) === 0 && !opts.create) {
      throw new UsageError(`no catalog at ${where}: run \`clipkit import DIR --db ${where}\` first`);
    }
    if ((found[0]?.n ?? 0) > 0) {
      const current = await readVectorSupport(c, where);
      if (current) return current;
    }
    if (opts.readOnly) {
      throw new CatalogMismatchError(`catalog schema is older than this clipkit's: run \`clipkit import\` once to upgrade it`, where);
    }
    await c.query('BEGIN');
    await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await c.query('CREATE SCHEMA IF NOT EXISTS clipkit');
    await c.query('CREATE TABLE IF NOT EXISTS clipkit.meta (key text PRIMARY KEY, value text NOT NULL)');
    const { rows } = await c.query<{ value: string }>(`SELECT value FROM clipkit.meta WHERE key = 'schema_version'`);
    const version = rows[0] ? Number(rows[0].value) : 0;
    if (version > SCHEMA_VERSION) {
      throw new CatalogMismatchError(
        `catalog schema version ${version} is newer than this clipkit supports (${SCHEMA_VERSION}): upgrade clipkit`,
        where,
      );
    }
    let vectors: VectorSupport;
    if (version === 0) {
      vectors = await createVectorExtension(c);
    } else {
      const { rows: col } = await c.query<{ value: string }>(`SELECT value FROM clipkit.meta WHERE key = 'vector_column'`);
      const column = (col[0]?.value ?? 'bytea') as VectorColumn;
      const { rows: why } = await c.query<{ value: string }>(`SELECT value FROM clipkit.meta WHERE key = 'vector_reason'`);
      const ext = await extensionVersion(c);
      vectors = { column, extension: ext, reason: column === 'halfvec' ? `pgvector ${ext}` : why[0]?.value ?? 'created without pgvector' };
    }
    for (let v = version; v < SCHEMA_VERSION; v++) await c.query((migrations[v] as (vec: VectorColumn) => string)(vectors.column));
    if (version === 0) await c.query(`INSERT INTO clipkit.meta VALUES ('vector_reason', $1)`, [vectors.reason]);
    if (version < SCHEMA_VERSION) {
      await c.query(
        `INSERT INTO clipkit.meta VALUES ('schema_version', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
        [String(SCHEMA_VERSION)],
      );
    }
    await c.query('COMMIT');
    return vectors;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    if (err instanceof CatalogMismatchError || err instanceof UsageError || err instanceof CatalogBusyError) throw err;
    throw describeFailure(err, where);
  } finally {
    c.off('error', onError);
    c.release();
  }
}

/** The vector support of a catalog whose schema is current; null when it needs migrating. */
async function readVectorSupport(c: pg.PoolClient, where: string): Promise<VectorSupport | null> {
  const { rows } = await c.query<{ key: string; value: string }>(`SELECT key, value FROM clipkit.meta`);
  const meta = new Map(rows.map((r) => [r.key, r.value]));
  const version = Number(meta.get('schema_version') ?? 0);
  if (version > SCHEMA_VERSION) {
    throw new CatalogMismatchError(
      `catalog schema version ${version} is newer than this clipkit supports (${SCHEMA_VERSION}): upgrade clipkit`,
      where,
    );
  }
  if (version < SCHEMA_VERSION) return null;
  const column = (meta.get('vector_column') ?? 'bytea') as VectorColumn;
  const ext = await extensionVersion(c);
  return { column, extension: ext, reason: column === 'halfvec' ? `pgvector ${ext}` : meta.get('vector_reason') ?? 'created without pgvector' };
}

async function extensionVersion(c: pg.PoolClient): Promise<string | null> {
  const { rows } = await c.query<{ v: string }>(`SELECT extversion AS v FROM pg_extension WHERE extname = 'vector'`);
  return rows[0]?.v ?? null;
}

/** pgvector ≥ 0.7 when it exists or this role may create it; otherwise bytea, with the reason. */
async function createVectorExtension(c: pg.PoolClient): Promise<VectorSupport> {
  let reason: string | null = null;
  await c.query('SAVEPOINT ext');
  try {
    await c.query('CREATE EXTENSION IF NOT EXISTS vector');
    await c.query('RELEASE SAVEPOINT ext');
  } catch (err) {
    await c.query('ROLLBACK TO SAVEPOINT ext');
    reason = `cannot create extension vector: ${(err as Error).message}`;
  }
  const ext = await extensionVersion(c);
  if (ext === null) return { column: 'bytea', extension: null, reason: reason ?? 'pgvector is not installed' };
  const [major = 0, minor = 0] = ext.split('.').map(Number);
  if (major < (MIN_VECTOR_VERSION[0] as number) || (major === MIN_VECTOR_VERSION[0] && minor < (MIN_VECTOR_VERSION[1] as number))) {
    return { column: 'bytea', extension: ext, reason: `pgvector ${ext} has no halfvec (needs ≥ 0.7)` };
  }
  return { column: 'halfvec', extension: ext, reason: `pgvector ${ext}` };
}
