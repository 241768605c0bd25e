// The catalog's vocabulary, shared by the interface and every engine's implementation.
import type { Precision } from '../../types.js';

export type StoreFormat = 'f32' | 'f16';

export interface CatalogModel {
  id: string;
  projectionDim: number;
  configHash: string;
  /** sha256 of the weights (model/fingerprint.ts); null in a catalog made before it was kept. */
  weightsHash?: string | null;
  store: StoreFormat;
  /** Where the model was loaded from last, so later commands can omit --model. */
  dir: string | null;
}

export interface ModelIdentity {
  id: string;
  projectionDim: number;
  configHash: string;
  /** sha256 of the weights: two models of one architecture differ only here. */
  weightsHash?: string | null;
  dir: string | null;
}

export interface StoredFile {
  path: string;
  size: number;
  mtimeMs: number;
  contentId: number;
  missing: boolean;
}

/** A catalogued file with its content's identity, as `clipkit serve` looks it up by id. */
export interface CatalogFile {
  id: number;
  path: string;
  size: number;
  mtimeMs: number;
  contentId: number;
  /** sha256 of the bytes at import time. */
  hash: string;
  /** Whether the content has an embedding (status 'ok'). */
  embedded: boolean;
}

/** A file's id and path, as search and duplicate results name it. */
export interface FileRef {
  id: number;
  path: string;
}

export interface FileStat {
  path: string;
  size: number;
  mtimeMs: number;
}

/** What one content resolved to: its L2-normalised embedding bytes, or why it has none. */
export type ContentOutcome =
  | { hash: string; embedding: Uint8Array; precision?: Precision } // what encoded it (default fp32)
  | { hash: string; error: { code: string; message: string } };

/** One unit of a batch write: paths that all hold the same bytes. */
export type BatchEntry =
  | { files: FileStat[]; content: ContentOutcome }
  | { files: FileStat[]; contentId: number };

export interface CatalogCounts {
  files: number;
  missing: number;
  contents: number;
  ok: number;
  errors: number;
}

export interface FileError {
  path: string;
  code: string;
  message: string;
}

/** A catalog's embeddings as one row-major matrix, rows aligned with `contentIds`. */
export interface EmbeddingMatrix {
  contentIds: Int32Array;
  data: Float32Array | Uint16Array;
  rows: number;
  dim: number;
  store: StoreFormat;
}

export const BYTES_PER_VALUE: Record<StoreFormat, number> = { f32: 4, f16: 2 };

/** Storage for an embedding matrix of `length` values. */
export type MatrixAllocator = (length: number, store: StoreFormat) => Float32Array | Uint16Array;

export const plainArrays: MatrixAllocator = (length, store) =>
  store === 'f16' ? new Uint16Array(length) : new Float32Array(length);

/** One content as `Catalog.dump` hands it out. */
export interface DumpedContent {
  id: number;
  hash: string;
  /** Little-endian values in the catalog's store format; null for a content that failed. */
  embedding: Uint8Array | null;
  precision: Precision | null;
  error: { code: string; message: string } | null;
  /** Its files present on disk (missing ones are not copied). */
  files: FileStat[];
}

/** Held by an import while it writes; released when it ends, or by the engine when it dies. */
export interface WriterLease {
  release(): Promise<void>;
}

export interface Catalog {
  /** Where the catalog lives, fit for messages: a file path, or a URL without its password. */
  readonly path: string;

  /** The engine, and how it stores embeddings (for `clipkit info --db`). */
  readonly storage: CatalogStorage;

  close(): Promise<void>;

  /** Changes whenever this or another connection commits; keys caches of catalog contents. */
  changeToken(): Promise<string>;

  model(): Promise<CatalogModel | null>;

  /**
   * Throws CatalogMismatchError unless `model` is the one the catalog was built with (embeddings
   * of two models are not comparable) and `store`, when given, its storage format.
   * An empty catalog accepts any model.
   */
  checkModel(model: ModelIdentity, store?: StoreFormat): Promise<void>;

  /** Checks the model, then records it (first use) or where it now lives. */
  bindModel(model: ModelIdentity, store?: StoreFormat): Promise<CatalogModel>;

  file(path: string): Promise<StoredFile | undefined>;

  contentId(hash: string): Promise<number | undefined>;

  /** Writes a batch in one transaction: all of it lands, or (on a crash) none of it. */
  writeBatch(entries: readonly BatchEntry[]): Promise<void>;

  /**
   * After a complete scan of `root`: files under it that were not seen are marked missing, or
   * with `prune` deleted; contents no file points at any more are dropped. Returns how many
   * files were affected.
   */
  reconcile(root: string, seen: ReadonlySet<string>, prune: boolean): Promise<number>;

  counts(): Promise<CatalogCounts>;

  /** Searchable files (present, encoded) per precision that encoded them; absent precisions are left out. */
  precisions(): Promise<Partial<Record<Precision, number>>>;

  /** Files (present on disk) whose content could not be encoded, with the reason. */
  errors(): Promise<FileError[]>;

  /** Present files of each content, sorted by path; contents with none are absent from the map. */
  files(contentIds: Iterable<number>): Promise<Map<number, FileRef[]>>;

  /** A present file by its id; undefined when there is none or it went missing. */
  fileById(id: number): Promise<CatalogFile | undefined>;

  /** Records a folder an import scanned (idempotent): `clipkit serve` hands out files inside these only. */
  addRoot(root: string): Promise<void>;

  /** Every folder ever imported, sorted. */
  roots(): Promise<string[]>;

  /** Every embedding of a content that still has a file on disk, in one matrix from `alloc`. */
  embeddings(alloc?: MatrixAllocator): Promise<EmbeddingMatrix>;

  /**
   * Engines that can: when the change from token `since` to `now` only added contents, the
   * embeddings of those contents (rows to append to the matrix loaded at `since`); else null.
   */
  embeddingsAdded?(since: string, now: string, alloc?: MatrixAllocator): Promise<EmbeddingMatrix | null>;

  /** 'ok', or what the engine's own consistency check found. */
  integrityCheck(): Promise<string>;

  /**
   * Up to `limit` contents with an id above `afterId`, ascending, each with its present files:
   * what `clipkit catalog copy` moves (embedding bytes as stored, nothing re-encoded).
   */
  dump(afterId: number, limit: number): Promise<DumpedContent[]>;

  /** The right to import: taken at once or refused with CatalogBusyError, never waited for. */
  acquireWriter(): Promise<WriterLease>;

  /** Present on catalogs that several importers fill at once (PostgreSQL), in place of the lock. */
  readonly workQueue?: WorkQueue;

  /** Present where the engine searches an index itself (pgvector HNSW): the k nearest contents. */
  /** efSearch overrides the catalog's (pgvector's hnsw.ef_search) for this query. */
  nearest?(query: Float32Array, k: number, efSearch?: number): Promise<Array<{ contentId: number; score: number }>>;
}

export interface CatalogStorage {
  engine: 'sqlite' | 'postgres';
  /** 'blob' (SQLite), 'halfvec' (pgvector) or 'bytea' (PostgreSQL without pgvector). */
  vectors: 'blob' | 'halfvec' | 'bytea';
  /** Why this storage: e.g. the pgvector version, or why the extension could not be created. */
  detail: string;
}

/** Work of shared importers under each root (`clipkit status`). */
export interface QueueStatus {
  pending: number;
  claimed: number;
  /** Files handed back because another importer was encoding the same content. */
  waiting: number;
  workers: Array<{
    id: string;
    root: string;
    /** Files this importer holds under a live lease now. */
    claimed: number;
    done: number;
    failed: number;
    state: 'running' | 'finished' | 'gone';
    lastSeenSecondsAgo: number;
  }>;
}

/** A file as the scan found it: `fsPath` holds the name's bytes (names need not be UTF-8). */
export interface QueuedFile extends FileStat {
  fsPath: Buffer;
}

/**
 * Shared imports: every importer scans, the scan queues new or changed files, and importers claim
 * them in batches under a lease their heartbeat renews; a dead importer's lease expires and its
 * batch goes to another. Files are settled (leave the queue) by the batch write that stores them.
 */
export interface WorkQueue {
  /** Registers this importer and starts renewing its leases every leaseSeconds / 3. */
  begin(root: string, leaseSeconds: number): Promise<void>;
  /** Queues the files of one scan chunk that are new or changed; revives unchanged missing ones. */
  enqueue(files: readonly QueuedFile[]): Promise<{ changed: number; revived: number }>;
  /** Claims up to max queued files under the root: none when all are done or leased by others. */
  claim(max: number): Promise<QueuedFile[]>;
  /** Files under the root that others hold or that wait, and seconds until the first lease ends. */
  outstanding(): Promise<{ files: number; waitSeconds: number }>;
  /**
   * For a new file's content, in one round trip: the stored content's id when there is one
   * (looked up again after the claim, so a content stored meanwhile is found), and whether this
   * importer may encode it (it claimed the hash: no live importer is encoding it).
   */
  claimContent(hash: string): Promise<{ existing: number | undefined; claimed: boolean }>;
  /** Hands a claimed file back for later: its content is being encoded by another importer. */
  defer(path: string): Promise<void>;
  /** Takes files that need no catalog row (not images, vanished, unreadable) off the queue. */
  settle(paths: readonly string[], failed: number): Promise<void>;
  /** Stops renewing and marks this importer finished. */
  end(): Promise<void>;
  /** Pending / claimed / waiting files and every importer's progress. */
  status(): Promise<QueueStatus>;
}

export interface OpenCatalogOptions {
  /** Create the catalog when absent (import); otherwise a wrong --db is an error. */
  create?: boolean;
  /** Only read (search, duplicates, serve): the catalog is never created nor written. */
  readOnly?: boolean;
  /** Bounds how long a short write waits behind an importer's batch commit. */
  busyTimeoutMs?: number;
  /** PostgreSQL: how long a lost connection is retried before the command fails (default 30 s). */
  retrySeconds?: number;
  /** PostgreSQL: 'hnsw' searches a pgvector HNSW index on the server instead of the exact matrix. */
  index?: 'exact' | 'hnsw';
  /** PostgreSQL HNSW: candidates the index search keeps (pgvector's hnsw.ef_search, 1–1000;
   * default max(100, 4k)). Higher finds more of the true top-k and takes longer. */
  efSearch?: number;
}
