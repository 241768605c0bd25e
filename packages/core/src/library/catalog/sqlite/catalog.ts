// The catalog in one SQLite file (better-sqlite3) in WAL mode, so searches read while an import
// writes. Every batch of an import lands in one transaction, which is what makes a kill -9 at
// any moment safe: a file either has its row and its whole embedding, or nothing at all.
// better-sqlite3 is synchronous; the async methods only satisfy the engine-neutral interface.
import fs from 'node:fs';
import Database from 'better-sqlite3';
import { CatalogError, CatalogMismatchError, UsageError } from '../../../errors.js';
import { kindOf } from '../../../util/files.js';
import type { Precision } from '../../../types.js';
import {
  BYTES_PER_VALUE,
  plainArrays,
  type BatchEntry,
  type Catalog,
  type CatalogCounts,
  type CatalogFile,
  type CatalogModel,
  type EmbeddingMatrix,
  type FileError,
  type FileRef,
  type MatrixAllocator,
  type ModelIdentity,
  type OpenCatalogOptions,
  type CatalogStorage,
  type DumpedContent,
  type StoreFormat,
  type StoredFile,
  type WriterLease,
} from '../types.js';
import { checkModelIdentity, modelFromRow, type ModelRow } from '../identity.js';
import { catalogError, withSqliteErrors } from './errors.js';
import { migrations, SCHEMA_VERSION } from './schema.js';
import { WriterLock } from './writer-lock.js';

export class SqliteCatalog implements Catalog {
  readonly storage: CatalogStorage = { engine: 'sqlite', vectors: 'blob', detail: 'embeddings as f32 or f16 blobs' };
  private writes = 0;

  private constructor(
    readonly path: string,
    private readonly db: Database.Database,
  ) {}

  /**
   * Opens (and with `create`, creates) a catalog and brings its schema up to date. A file that is
   * not a clipkit catalog is recognised as such before anything is written to it, and refused.
   * With `readOnly` the connection cannot write at all (a catalog from an older clipkit is
   * migrated first, through a connection of its own). busyTimeoutMs bounds how long a short
   * write waits behind an importer's batch commit.
   */
  static open(path: string, opts: OpenCatalogOptions = {}): SqliteCatalog {
    const st = statOrNull(path);
    if (st === null && !opts.create) {
      throw new UsageError(`no catalog at ${path}: run \`clipkit import DIR --db ${path}\` first`);
    }
    if (st !== null && !st.isFile()) {
      throw new CatalogError(`is ${kindOf(st)}, not a catalog file: give --db the path of a catalog file`, path);
    }
    const timeout = opts.busyTimeoutMs ?? 5000;
    const readOnly = opts.readOnly === true;
    let db = connect(path, { readonly: readOnly, fileMustExist: !opts.create, timeout });
    try {
      const found = recognise(db, path);
      if (readOnly) {
        if (found === 'empty') throw new UsageError(`no catalog at ${path} (an empty database): run \`clipkit import DIR --db ${path}\` first`);
        if (found === 'outdated') {
          db.close();
          const rw = connect(path, { readonly: false, fileMustExist: true, timeout });
          try {
            prepareForWriting(rw, path);
          } finally {
            rw.close();
          }
          db = connect(path, { readonly: true, fileMustExist: true, timeout });
        }
      } else {
        prepareForWriting(db, path);
      }
      db.pragma('foreign_keys = ON');
    } catch (err) {
      db.close();
      throw catalogError(err, path);
    }
    return withSqliteErrors(new SqliteCatalog(path, db), path);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  /** Changes whenever this or another connection commits; keys caches of catalog contents. */
  async changeToken(): Promise<string> {
    return `${String(this.db.pragma('data_version', { simple: true }))}:${this.writes}`;
  }

  async model(): Promise<CatalogModel | null> {
    const row = this.db.prepare('SELECT * FROM model').get() as ModelRow | undefined;
    if (!row) return null;
    return modelFromRow(row);
  }

  /**
   * Throws CatalogMismatchError unless `model` is the one the catalog was built with (embeddings
   * of two models are not comparable) and `store`, when given, its storage format.
   * An empty catalog accepts any model.
   */
  async checkModel(model: ModelIdentity, store?: StoreFormat): Promise<void> {
    checkModelIdentity(await this.model(), model, this.path, store);
  }

  /** Checks the model, then records it (first use) or where it now lives. */
  async bindModel(model: ModelIdentity, store?: StoreFormat): Promise<CatalogModel> {
    await this.checkModel(model, store);
    const current = await this.model();
    if (!current) {
      this.db
        .prepare('INSERT INTO model (singleton, model_id, projection_dim, config_hash, store, model_dir, weights_sha256) VALUES (1, ?, ?, ?, ?, ?, ?)')
        .run(model.id, model.projectionDim, model.configHash, store ?? 'f32', model.dir, model.weightsHash ?? null);
      this.writes++;
      return { ...model, store: store ?? 'f32' };
    }
    const dir = model.dir ?? current.dir;
    const weightsHash = current.weightsHash ?? model.weightsHash ?? null;
    if (dir !== current.dir || weightsHash !== current.weightsHash) {
      this.db.prepare('UPDATE model SET model_dir = ?, weights_sha256 = ?').run(dir, weightsHash);
      this.writes++;
    }
    return { ...current, dir, weightsHash };
  }

  async file(path: string): Promise<StoredFile | undefined> {
    const row = this.stmt('SELECT path, size, mtime_ms, content_id, missing FROM files WHERE path = ?').get(path) as
      | { path: string; size: number; mtime_ms: number; content_id: number; missing: number }
      | undefined;
    if (!row) return undefined;
    return { path: row.path, size: row.size, mtimeMs: row.mtime_ms, contentId: row.content_id, missing: row.missing === 1 };
  }

  async contentId(hash: string): Promise<number | undefined> {
    return this.stmt('SELECT id FROM contents WHERE hash = ?').pluck().get(hash) as number | undefined;
  }

  /** Writes a batch in one transaction: all of it lands, or (on a crash) none of it. */
  async writeBatch(entries: readonly BatchEntry[]): Promise<void> {
    const model = await this.model();
    if (!model) throw new UsageError('catalog has no model recorded; bind one before writing');
    const expectedBytes = model.projectionDim * BYTES_PER_VALUE[model.store];
    const insertContent = this.stmt(
      `INSERT INTO contents (hash, status, error_code, error, embedding, precision) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (hash) DO UPDATE SET status = excluded.status, error_code = excluded.error_code,
         error = excluded.error, embedding = excluded.embedding, precision = excluded.precision
       RETURNING id`,
    ).pluck();
    const upsertFile = this.stmt(
      `INSERT INTO files (path, size, mtime_ms, content_id, missing) VALUES (?, ?, ?, ?, 0)
       ON CONFLICT (path) DO UPDATE SET size = excluded.size, mtime_ms = excluded.mtime_ms,
         content_id = excluded.content_id, missing = 0`,
    );
    this.db.transaction(() => {
      for (const entry of entries) {
        let contentId: number;
        if ('contentId' in entry) {
          contentId = entry.contentId;
        } else if ('embedding' in entry.content) {
          const { hash, embedding, precision } = entry.content;
          if (embedding.byteLength !== expectedBytes) {
            throw new RangeError(`embedding for ${hash} has ${embedding.byteLength} bytes, expected ${expectedBytes}`);
          }
          contentId = insertContent.get(hash, 'ok', null, null, embedding, precision ?? 'fp32') as number;
        } else {
          const { hash, error } = entry.content;
          contentId = insertContent.get(hash, 'error', error.code, error.message, null, null) as number;
        }
        for (const f of entry.files) upsertFile.run(f.path, f.size, f.mtimeMs, contentId);
      }
    })();
    this.writes++;
  }

  /**
   * After a complete scan of `root`: files under it that were not seen are marked missing, or
   * with `prune` deleted; contents no file points at any more are dropped. Returns how many
   * files were affected.
   */
  async reconcile(root: string, seen: ReadonlySet<string>, prune: boolean): Promise<number> {
    const prefix = root.endsWith('/') ? root : `${root}/`;
    // Every path under prefix sorts in [prefix, prefix with its final '/' replaced by '0').
    const upper = `${prefix.slice(0, -1)}0`;
    const rows = this.stmt('SELECT id, path, missing FROM files WHERE path >= ? AND path < ?').all(prefix, upper) as Array<{
      id: number;
      path: string;
      missing: number;
    }>;
    const gone = rows.filter((r) => !seen.has(r.path) && (prune || r.missing === 0));
    const mark = this.stmt(prune ? 'DELETE FROM files WHERE id = ?' : 'UPDATE files SET missing = 1 WHERE id = ?');
    this.db.transaction(() => {
      for (const r of gone) mark.run(r.id);
      this.db.exec('DELETE FROM contents WHERE id NOT IN (SELECT content_id FROM files)');
    })();
    this.writes++;
    return gone.length;
  }

  async counts(): Promise<CatalogCounts> {
    const row = this.db
      .prepare(
        `SELECT
           (SELECT count(*) FROM files WHERE missing = 0) AS files,
           (SELECT count(*) FROM files WHERE missing = 1) AS missing,
           (SELECT count(*) FROM contents) AS contents,
           (SELECT count(*) FROM files f JOIN contents c ON c.id = f.content_id
              WHERE f.missing = 0 AND c.status = 'ok') AS ok,
           (SELECT count(*) FROM files f JOIN contents c ON c.id = f.content_id
              WHERE f.missing = 0 AND c.status = 'error') AS errors`,
      )
      .get() as CatalogCounts;
    return row;
  }

  /** Searchable files (present, encoded) per precision that encoded them; absent precisions are left out. */
  async precisions(): Promise<Partial<Record<Precision, number>>> {
    const rows = this.stmt(
      `SELECT c.precision AS precision, count(*) AS n FROM files f JOIN contents c ON c.id = f.content_id
       WHERE f.missing = 0 AND c.status = 'ok' GROUP BY c.precision ORDER BY c.precision DESC`,
    ).all() as Array<{ precision: Precision; n: number }>;
    return Object.fromEntries(rows.map((r) => [r.precision, r.n]));
  }

  /** Files (present on disk) whose content could not be encoded, with the reason. */
  async errors(): Promise<FileError[]> {
    return this.db
      .prepare(
        `SELECT f.path AS path, c.error_code AS code, c.error AS message FROM files f
         JOIN contents c ON c.id = f.content_id WHERE f.missing = 0 AND c.status = 'error' ORDER BY f.path`,
      )
      .all() as FileError[];
  }

  /** Present paths of each content, sorted; contents with none are absent from the map. */
  async files(contentIds: Iterable<number>): Promise<Map<number, FileRef[]>> {
    const stmt = this.stmt('SELECT id, path FROM files WHERE content_id = ? AND missing = 0 ORDER BY path');
    const out = new Map<number, FileRef[]>();
    for (const id of contentIds) {
      const files = stmt.all(id) as FileRef[];
      if (files.length > 0) out.set(id, files);
    }
    return out;
  }

  async fileById(id: number): Promise<CatalogFile | undefined> {
    const row = this.stmt(
      `SELECT f.id, f.path, f.size, f.mtime_ms, f.content_id, c.hash, c.status FROM files f
       JOIN contents c ON c.id = f.content_id WHERE f.id = ? AND f.missing = 0`,
    ).get(id) as
      | { id: number; path: string; size: number; mtime_ms: number; content_id: number; hash: string; status: string }
      | undefined;
    if (!row) return undefined;
    return { id: row.id, path: row.path, size: row.size, mtimeMs: row.mtime_ms, contentId: row.content_id, hash: row.hash, embedded: row.status === 'ok' };
  }

  async addRoot(root: string): Promise<void> {
    this.stmt('INSERT INTO roots (path) VALUES (?) ON CONFLICT (path) DO NOTHING').run(root);
    this.writes++;
  }

  async roots(): Promise<string[]> {
    return this.stmt('SELECT path FROM roots ORDER BY path').pluck().all() as string[];
  }


  /** Every embedding of a content that still has a file on disk, in one matrix from `alloc`. */
  async embeddings(alloc: MatrixAllocator = plainArrays): Promise<EmbeddingMatrix> {
    const model = await this.model();
    if (!model) throw new UsageError(`catalog ${this.path} is empty: run \`clipkit import\` first`);
    const where = `c.status = 'ok' AND EXISTS (SELECT 1 FROM files f WHERE f.content_id = c.id AND f.missing = 0)`;
    const dim = model.projectionDim;
    const bytesPerRow = dim * BYTES_PER_VALUE[model.store];
    // One read transaction: count and rows come from the same snapshot while an import commits.
    return this.db.transaction((): EmbeddingMatrix => {
      const rows = this.db.prepare(`SELECT count(*) FROM contents c WHERE ${where}`).pluck().get() as number;
      const data = alloc(rows * dim, model.store);
      // Blobs are copied bytewise (they need not be aligned); both sides are little-endian.
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      const contentIds = new Int32Array(rows);
      let i = 0;
      const scan = this.db.prepare(`SELECT c.id, c.embedding FROM contents c WHERE ${where} ORDER BY c.id`).raw();
      for (const [id, blob] of scan.iterate() as IterableIterator<[number, Buffer]>) {
        if (blob.byteLength !== bytesPerRow) {
          throw new CatalogMismatchError(`embedding of content ${id} has ${blob.byteLength} bytes, expected ${bytesPerRow}`, this.path);
        }
        bytes.set(blob, i * bytesPerRow);
        contentIds[i++] = id;
      }
      return { contentIds, data, rows, dim, store: model.store };
    })();
  }

  async integrityCheck(): Promise<string> {
    return String(this.db.pragma('integrity_check', { simple: true }));
  }

  async dump(afterId: number, limit: number): Promise<DumpedContent[]> {
    const contents = this.stmt(
      `SELECT id, hash, status, error_code, error, embedding, precision FROM contents WHERE id > ? ORDER BY id LIMIT ?`,
    ).all(afterId, limit) as Array<{
      id: number; hash: string; status: string; error_code: string | null; error: string | null; embedding: Buffer | null; precision: Precision | null;
    }>;
    const files = this.stmt('SELECT path, size, mtime_ms FROM files WHERE content_id = ? AND missing = 0 ORDER BY path');
    return contents.map((c) => ({
      id: c.id,
      hash: c.hash,
      embedding: c.embedding ? new Uint8Array(c.embedding) : null,
      precision: c.precision,
      error: c.status === 'error' ? { code: c.error_code ?? 'ERROR', message: c.error ?? '' } : null,
      files: (files.all(c.id) as Array<{ path: string; size: number; mtime_ms: number }>).map((f) => ({ path: f.path, size: f.size, mtimeMs: f.mtime_ms })),
    }));
  }

  /** One importer per file: a second one is refused at once (see writer-lock.ts). */
  async acquireWriter(): Promise<WriterLease> {
    const lock = WriterLock.acquire(this.path);
    return { release: async () => lock.release() };
  }

  private readonly statements = new Map<string, Database.Statement>();
  private stmt(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }
}

/** "Clkt": the application_id that marks a SQLite file as a clipkit catalog. */
export const APPLICATION_ID = 0x436c6b74;

/** Tables every clipkit catalog has had since schema version 1 (catalogs made before the stamp). */
const CATALOG_TABLES = ['model', 'contents', 'files'];

function statOrNull(path: string): fs.Stats | null {
  try {
    return fs.statSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new CatalogError(`cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, path, undefined, { cause: err });
  }
}

function connect(path: string, opts: Database.Options): Database.Database {
  try {
    return new Database(path, opts);
  } catch (err) {
    throw catalogError(err, path);
  }
}

/**
 * What the file at `path` is, read without writing: a current catalog, one to migrate or stamp,
 * or an empty database to make one of. Anything else (another program's SQLite file) is refused.
 */
function recognise(db: Database.Database, path: string): 'current' | 'outdated' | 'empty' {
  const appId = db.pragma('application_id', { simple: true }) as number;
  const version = db.pragma('user_version', { simple: true }) as number;
  const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`).pluck().all() as string[];
  if (appId === 0 && version === 0 && tables.length === 0) return 'empty';
  const ours = appId === APPLICATION_ID || (appId === 0 && version >= 1 && CATALOG_TABLES.every((t) => tables.includes(t)));
  if (!ours) {
    const what = appId !== 0 ? `application_id 0x${(appId >>> 0).toString(16)}` : `tables: ${tables.slice(0, 6).join(', ') || 'none'}${tables.length > 6 ? ', …' : ''}`;
    throw new CatalogMismatchError(`an SQLite database that is not a clipkit catalog (${what}); left untouched: give --db another file`, path);
  }
  if (version > SCHEMA_VERSION) {
    throw new CatalogMismatchError(
      `catalog schema version ${version} is newer than this clipkit supports (${SCHEMA_VERSION}): upgrade clipkit`,
      path,
    );
  }
  return appId === APPLICATION_ID && version === SCHEMA_VERSION ? 'current' : 'outdated';
}

/** WAL mode, the schema brought up to date, and the clipkit stamp. */
function prepareForWriting(db: Database.Database, path: string): void {
  db.pragma('journal_mode = WAL');
  // NORMAL in WAL mode survives any process crash; only an OS crash can lose the last commit.
  db.pragma('synchronous = NORMAL');
  migrate(db, path);
}

function migrate(db: Database.Database, path: string): void {
  const stamped = () => (db.pragma('application_id', { simple: true }) as number) === APPLICATION_ID;
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version === SCHEMA_VERSION && stamped()) return;
  db.transaction(() => {
    // Re-read inside the write lock: another process may have migrated meanwhile.
    recognise(db, path);
    const current = db.pragma('user_version', { simple: true }) as number;
    for (let v = current; v < SCHEMA_VERSION; v++) db.exec(migrations[v] as string);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
    db.pragma(`application_id = ${APPLICATION_ID}`);
  }).immediate();
}
