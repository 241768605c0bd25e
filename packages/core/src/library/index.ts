// The photo library as an API: Library.open(db) → import(dir) → search(query) / duplicates().
// The model is loaded on first need (duplicates needs none) and must match the catalog's.
import path from 'node:path';
import * as addon from '@clipkit/native-cuda';
import type { NativeKernels } from '@clipkit/native-cuda';
import { checkPrecision } from '../backends/precision.js';
import { normalizeRows, zeroShotScores } from '../embeddings.js';
import { NotFoundError, UsageError } from '../errors.js';
import { fillTemplates, resolveTemplates } from '../templates.js';
import { resolveModel } from '../model/hub.js';
import type { BackendName, DeviceName, LabelScore, Precision, PrecisionOption, TemplateSet } from '../types.js';
import {
  openCatalog,
  type Catalog,
  type CatalogCounts,
  type CatalogModel,
  type CatalogStorage,
  type EmbeddingMatrix,
  type FileError,
  type QueueStatus,
  type StoreFormat,
} from './catalog/index.js';
import { copyCatalog, type CopySummary } from './catalog-copy.js';
import { findDuplicates, type DuplicateGroup } from './duplicates.js';
import type { LibraryEncoder } from './encoder.js';
import { FileAccess, type FileInfo, type OpenedFile } from './file-access.js';
import { ImportJob, runImport, type ImportOptions } from './import.js';
import { loadLibraryEncoder } from './model-encoder.js';
import { parseQuery, type QueryTerm } from './query.js';
import { EmbeddingCache, queryVector, searchIndex, searchVector, storedVector, type QueryImage, type SearchHit } from './search.js';

const kernels: NativeKernels = addon;

export interface LibraryOptions {
  /** Model directory, hub repo or alias. Default: the catalog's model, else the hub default. */
  model?: string;
  backend?: BackendName;
  device?: DeviceName;
  threads?: number;
  /**
   * What the encoders compute in (default 'auto': bf16 where the native backend has a bf16 path
   * here, else fp32). Each embedding records its precision; search mixes rows of both.
   */
  precision?: PrecisionOption;
  /** Embedding storage of a new SQLite catalog (default f32); an existing one keeps its own.
   * PostgreSQL catalogs store f16 (pgvector halfvec, or bytea without the extension). */
  store?: StoreFormat;
  /** Search by clipkit's exact top-k over the loaded matrix (default), or, on PostgreSQL with
   * pgvector, by an HNSW index built and searched on the server. */
  index?: 'exact' | 'hnsw';
  /** With index 'hnsw': pgvector's hnsw.ef_search, 1–1000 (default max(100, 4k)): recall
   * against exact search rises with it, and so does query time (`npm run bench` shows both). */
  efSearch?: number;
  /** PostgreSQL: seconds a lost connection is retried before an operation fails (default 30). */
  retrySeconds?: number;
}

export interface SearchOptions {
  /** An image (a path, or the encoded bytes of an upload) whose embedding joins the query
   * (weight 1), alone or with the text. */
  image?: string | Uint8Array;
  /** Hits to skip before the k returned (paging). */
  offset?: number;
}

export interface ClassifyByIdOptions {
  /** Prompt templates (default 'simple': "a photo of a {}."). */
  templates?: TemplateSet;
}

/** Zero-shot scores of one catalogued file, best label first. */
export interface FileLabelScores {
  id: number;
  scores: LabelScore[];
}

export class Library {
  private encoder: Promise<LibraryEncoder> | null = null;
  private readonly cache: EmbeddingCache;
  private readonly access: FileAccess;
  private lastDuplicates: { matrix: EmbeddingMatrix; threshold: number; groups: Promise<DuplicateGroup[]> } | null = null;
  /** Image queries one at a time: the preprocessor's batch buffers are shared. */
  private imageQueries: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly catalog: Catalog,
    private readonly opts: LibraryOptions,
  ) {
    this.cache = new EmbeddingCache(catalog, kernels);
    this.access = new FileAccess(catalog);
  }

  /** Opens the catalog at dbPath (a SQLite file or a postgres:// URL), creating it when absent. */
  static async open(dbPath: string, opts: LibraryOptions = {}): Promise<Library> {
    checkPrecision(opts.precision ?? 'auto');
    return new Library(await openCatalog(dbPath, { create: true, index: opts.index, efSearch: opts.efSearch, retrySeconds: opts.retrySeconds }), opts);
  }

  /** Copies a catalog's contents, embeddings and files into another (SQLite ⇄ PostgreSQL), no model needed. */
  static copyCatalog(from: string, to: string): Promise<CopySummary> {
    return copyCatalog(from, to, kernels);
  }

  /** Opens an existing catalog only (search, duplicates): a wrong --db is an error, not a new file. */
  static async openExisting(dbPath: string, opts: LibraryOptions = {}): Promise<Library> {
    checkPrecision(opts.precision ?? 'auto');
    return new Library(await openCatalog(dbPath, { readOnly: true, index: opts.index, efSearch: opts.efSearch, retrySeconds: opts.retrySeconds }), opts);
  }

  get dbPath(): string {
    return this.catalog.path;
  }

  model(): Promise<CatalogModel | null> {
    return this.catalog.model();
  }

  counts(): Promise<CatalogCounts> {
    return this.catalog.counts();
  }

  errors(): Promise<FileError[]> {
    return this.catalog.errors();
  }

  /** The engine and how it stores embeddings. */
  get storage(): CatalogStorage {
    return this.catalog.storage;
  }

  /** Shared importers' queue and progress; null for a catalog with one importer at a time (SQLite). */
  async queueStatus(): Promise<QueueStatus | null> {
    return this.catalog.workQueue ? this.catalog.workQueue.status() : null;
  }

  /** Searchable files per precision that encoded them. */
  precisions(): Promise<Partial<Record<Precision, number>>> {
    return this.catalog.precisions();
  }

  integrityCheck(): Promise<string> {
    return this.catalog.integrityCheck();
  }

  /** Imports (incrementally) every image under dir; await the job for its summary. */
  import(dir: string, opts: ImportOptions = {}): ImportJob {
    return new ImportJob(async (job) => {
      // Lock first: a second importer fails at once, before loading a model or writing anything.
      const lease = await this.catalog.acquireWriter();
      try {
        const encoder = await this.loadEncoder();
        const model = await this.catalog.bindModel(encoder.identity, this.opts.store);
        return await runImport(job, this.catalog, encoder, kernels, model.store, dir, opts);
      } finally {
        await lease.release();
      }
    });
  }

  /** The k files closest to a query such as `"beach" + "sunset" - "people"`. */
  async search(query: string, k = 20, opts: SearchOptions = {}): Promise<SearchHit[]> {
    const terms: QueryTerm[] = query.trim() === '' ? [] : parseQuery(query);
    const uploads: QueryImage[] = [];
    if (typeof opts.image === 'string') terms.push({ kind: 'image', value: opts.image, weight: 1 });
    else if (opts.image !== undefined) uploads.push({ name: `<uploaded image of ${opts.image.byteLength} bytes>`, bytes: opts.image, weight: 1 });
    if (terms.length === 0 && uploads.length === 0) throw new UsageError('empty query: give a text, an --image, or both');
    if (!(await this.catalog.model())) return [];
    const encoder = await this.loadEncoder();
    await this.catalog.checkModel(encoder.identity);
    const hasImage = uploads.length > 0 || terms.some((t) => t.kind === 'image');
    const vector = await (hasImage ? this.oneImageQueryAtATime(() => queryVector(terms, encoder, uploads)) : queryVector(terms, encoder));
    if (this.opts.index === 'hnsw' && this.catalog.nearest) return searchIndex(vector, k, this.catalog, opts.offset ?? 0);
    return searchVector(vector, k, this.catalog, await this.cache.get(), kernels, opts.offset ?? 0);
  }

  /** The k files closest to catalogued file `id` (itself first, with its identical copies). */
  async similar(id: number, k = 20, opts: Pick<SearchOptions, 'offset'> = {}): Promise<SearchHit[]> {
    const matrix = await this.cache.get();
    return searchVector(await this.storedEmbedding(id, matrix), k, this.catalog, matrix, kernels, opts.offset ?? 0);
  }

  /** Zero-shot scores of catalogued files (their stored embeddings) against labels. */
  async classify(ids: readonly number[], labels: readonly string[], opts: ClassifyByIdOptions = {}): Promise<FileLabelScores[]> {
    if (!Array.isArray(ids) || ids.length === 0) throw new UsageError('classify: ids must be a non-empty array of file ids');
    if (!Array.isArray(labels) || labels.length === 0 || labels.some((l) => typeof l !== 'string' || l.trim() === '')) {
      throw new UsageError('classify: labels must be a non-empty array of non-empty strings');
    }
    if (new Set(labels).size !== labels.length) throw new UsageError('classify: a label appears twice');
    const templates = resolveTemplates(opts.templates ?? 'simple');
    const matrix = await this.cache.get();
    const dim = matrix.dim;
    const images = new Float32Array(ids.length * dim);
    for (const [i, id] of ids.entries()) images.set(await this.storedEmbedding(id, matrix), i * dim);
    const encoder = await this.loadEncoder();
    await this.catalog.checkModel(encoder.identity);
    // Prompt ensembling as in Clip.classify: each label is the normalised mean of its templates.
    const prompts = await encoder.encodeTexts(labels.flatMap((label) => fillTemplates(templates, label)));
    const perLabel = new Float32Array(labels.length * dim);
    for (let l = 0; l < labels.length; l++) {
      for (let t = 0; t < templates.length; t++) {
        for (let j = 0; j < dim; j++) perLabel[l * dim + j]! += prompts[(l * templates.length + t) * dim + j]!;
      }
    }
    const scores = zeroShotScores(images, normalizeRows(perLabel, dim), labels, dim, encoder.logitScale);
    return ids.map((id, i) => ({ id, scores: scores[i] as LabelScore[] }));
  }

  /** A catalogued file's path, size, date, format and pixel size (served files only: see FileAccess). */
  file(id: number): Promise<FileInfo> {
    return this.access.info(id);
  }

  /** Opens a catalogued file by id, refusing one that resolves outside the imported folders. */
  openFile(id: number): Promise<OpenedFile> {
    return this.access.open(id);
  }

  /**
   * Loads the model now, weights included (rather than at the first query or batch), and checks
   * it matches the catalog.
   */
  async loadModel(): Promise<void> {
    const encoder = await this.loadEncoder();
    await this.catalog.checkModel(encoder.identity);
    await encoder.warm();
  }

  /**
   * Groups of files whose embeddings have cosine ≥ threshold to another member. The last answer
   * is kept until the catalog changes: the all-pairs pass takes seconds on 10^5 photos, and a
   * server asks again for every visit of its duplicates page.
   */
  async duplicates(threshold = 0.95): Promise<DuplicateGroup[]> {
    if (!(await this.catalog.model())) return [];
    const matrix = await this.cache.get();
    if (this.lastDuplicates?.matrix !== matrix || this.lastDuplicates.threshold !== threshold) {
      const groups = findDuplicates(this.catalog, matrix, threshold, kernels);
      this.lastDuplicates = { matrix, threshold, groups };
      groups.catch(() => (this.lastDuplicates = null));
    }
    return this.lastDuplicates.groups;
  }

  async close(): Promise<void> {
    const encoder = this.encoder;
    this.encoder = null;
    if (encoder) (await encoder.catch(() => null))?.dispose();
    await this.catalog.close();
  }

  private async storedEmbedding(id: number, matrix: EmbeddingMatrix): Promise<Float32Array> {
    const file = Number.isSafeInteger(id) ? await this.catalog.fileById(id) : undefined;
    if (!file) throw new NotFoundError(`no file with id ${id} in the catalog`);
    const vector = storedVector(matrix, file.contentId, kernels);
    if (!vector) throw new NotFoundError(`file ${id} has no embedding (its image could not be decoded)`, file.path);
    return vector;
  }

  private oneImageQueryAtATime<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.imageQueries.then(fn);
    this.imageQueries = run.catch(() => undefined);
    return run;
  }

  private loadEncoder(): Promise<LibraryEncoder> {
    this.encoder ??= (async () => {
      const spec = this.opts.model ?? (await this.catalog.model())?.dir ?? undefined;
      const dir = path.resolve(await resolveModel(spec));
      const { backend, device, threads, precision = 'auto' } = this.opts;
      return loadLibraryEncoder(dir, { backend, device, threads, precision });
    })();
    this.encoder.catch(() => {
      this.encoder = null; // a failed load may be retried (e.g. after fixing --model)
    });
    return this.encoder;
  }
}

export { ImportJob } from './import.js';
export type { ImportOptions, ImportProgress, ImportStages, ImportSummary } from './import.js';
export type { StageTiming } from './stage-clock.js';
export type { SearchHit } from './search.js';
export type { FileInfo, OpenedFile } from './file-access.js';
export type { DuplicateGroup } from './duplicates.js';
export type { CopySummary } from './catalog-copy.js';
export type { CatalogCounts, CatalogModel, CatalogStorage, FileError, FileRef, QueueStatus, StoreFormat } from './catalog/index.js';
export type { ImageFormat } from './scan.js';
export type { QueryTerm } from './query.js';
export { parseQuery } from './query.js';
