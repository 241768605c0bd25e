// The catalog in one SQLite file (better-sqlite3) in WAL mode, so searches read while an import
// writes. Every batch of an import lands in one transaction, which is what makes a kill -9 at
// any moment safe: a file either has its row and its whole embedding, or nothing at all.
// better-sqlite3 is synchronous; the async methods only satisfy the engine-neutral interface.
import fs from 'node:fs';
import Database from 'better-sqlite3';
import { CatalogMismatchError, UsageError } from '../../../errors.js';
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
  type StoreFormat,
  type StoredFile,
  type WriterLease,
} from '../types.js';
import { migrations, SCHEMA_VERSION } from './schema.js';
import { WriterLock } from './writer-lock.js';

interface ModelRow {
  model_id: string;
  projection_dim: number;
  config_hash: string;
  store: StoreFormat;
  model_dir: string | null;
}

export class SqliteCatalog implements Catalog {
  private writes = 0;

  private constructor(
    readonly path: string,
    private readonly db: Database.Database,
  ) {}

  /**
   * Opens (and with `create`, creates) a catalog and brings its schema up to date.
   * busyTimeoutMs bounds how long a short write waits behind an importer's batch commit.
   */
  static open(path: string, opts: OpenCatalogOptions = {}): SqliteCatalog {
    if (!opts.create && !fs.existsSync(path)) {
      throw new UsageError(`no catalog at ${path}: run \`clipkit import DIR --db ${path}\` first`);
    }
    let db: Database.Database;
    try {
      db = new Database(path, { timeout: opts.busyTimeoutMs ?? 5000 });
    } catch (err) {
      throw new UsageError(`cannot open catalog ${path}: ${(err as Error).message}`, { cause: err });
    }
    try {
      db.pragma('journal_mode = WAL');
      // NORMAL in WAL mode survives any process crash; only an OS crash can lose the last commit.
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
      migrate(db, path);
    } catch (err) {
      db.close();
      if ((err as { code?: string }).code === 'SQLITE_NOTADB') {
        throw new CatalogMismatchError('not a clipkit catalog (not an SQLite database)', path, { cause: err });
      }
      throw err;
    }
    return new SqliteCatalog(path, db);
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
    return {
      id: row.model_id,
      projectionDim: row.projection_dim,
      configHash: row.config_hash,
      store: row.store,
      dir: row.model_dir,
    };
  }

  /**
   * Throws CatalogMismatchError unless `model` is the one the catalog was built with (embeddings
   * of two models are not comparable) and `store`, when given, its storage format.
   * An empty catalog accepts any model.
   */
  async checkModel(model: ModelIdentity, store?: StoreFormat): Promise<void> {
    const current = await this.model();
    if (!current) return;
    if (current.configHash !== model.configHash || current.projectionDim !== model.projectionDim) {
      throw new CatalogMismatchError(
        `catalog was built with model ${current.id} (dim ${current.projectionDim}, config ${current.configHash.slice(0, 12)}); ` +
          `refusing to mix in ${model.id} (dim ${model.projectionDim}, config ${model.configHash.slice(0, 12)}): use another --db`,
        this.path,
      );
    }
    if (store !== undefined && store !== current.store) {
      throw new CatalogMismatchError(
        `catalog stores ${current.store} embeddings; cannot add ${store} ones: use another --db`,
        this.path,
      );
    }
  }

  /** Checks the model, then records it (first use) or where it now lives. */
  async bindModel(model: ModelIdentity, store?: StoreFormat): Promise<CatalogModel> {
    await this.checkModel(model, store);
    const current = await this.model();
    if (!current) {
      this.db
        .prepare('INSERT INTO model VALUES (1, ?, ?, ?, ?, ?)')
        .run(model.id, model.projectionDim, model.configHash, store ?? 'f32', model.dir);
      this.writes++;
      return { ...model, store: store ?? 'f32' };
    }
    if (model.dir !== null && model.dir !== current.dir) {
      this.db.prepare('UPDATE model SET model_dir = ?').run(model.dir);
      this.writes++;
    }
    return { ...current, dir: model.dir ?? current.dir };
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
      `INSERT INTO contents (hash, status, error_code, error, embedding) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (hash) DO UPDATE SET status = excluded.status, error_code = excluded.error_code,
         error = excluded.error, embedding = excluded.embedding
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
          const { hash, embedding } = entry.content;
          if (embedding.byteLength !== expectedBytes) {
            throw new RangeError(`embedding for ${hash} has ${embedding.byteLength} bytes, expected ${expectedBytes}`);
          }
          contentId = insertContent.get(hash, 'ok', null, null, embedding) as number;
        } else {
          const { hash, error } = entry.content;
          contentId = insertContent.get(hash, 'error', error.code, error.message, null) as number;
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

function migrate(db: Database.Database, path: string): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > SCHEMA_VERSION) {
    throw new CatalogMismatchError(
      `catalog schema version ${version} is newer than this clipkit supports (${SCHEMA_VERSION}): upgrade clipkit`,
      path,
    );
  }
  if (version === SCHEMA_VERSION) return;
  db.transaction(() => {
    // Re-read inside the write lock: another process may have migrated meanwhile.
    const current = db.pragma('user_version', { simple: true }) as number;
    for (let v = current; v < SCHEMA_VERSION; v++) db.exec(migrations[v] as string);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}
