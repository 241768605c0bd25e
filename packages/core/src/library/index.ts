// The photo library as an API: Library.open(db) → import(dir) → search(query) / duplicates().
// The model is loaded on first need (duplicates needs none) and must match the catalog's.
import path from 'node:path';
import * as addon from '@clipkit/native-cuda';
import type { NativeKernels } from '@clipkit/native-cuda';
import { UsageError } from '../errors.js';
import { resolveModel } from '../model/hub.js';
import type { BackendName, DeviceName } from '../types.js';
import { openCatalog, type Catalog, type CatalogCounts, type CatalogModel, type FileError, type StoreFormat } from './catalog/index.js';
import { findDuplicates, type DuplicateGroup } from './duplicates.js';
import type { LibraryEncoder } from './encoder.js';
import { ImportJob, runImport, type ImportOptions } from './import.js';
import { loadLibraryEncoder } from './model-encoder.js';
import { parseQuery, type QueryTerm } from './query.js';
import { EmbeddingCache, queryVector, searchVector, type SearchHit } from './search.js';

const kernels: NativeKernels = addon;

export interface LibraryOptions {
  /** Model directory, hub repo or alias. Default: the catalog's model, else the hub default. */
  model?: string;
  backend?: BackendName;
  device?: DeviceName;
  threads?: number;
  /** Embedding storage of a new catalog (default f32); an existing one keeps its own. */
  store?: StoreFormat;
}

export interface SearchOptions {
  /** An image whose embedding joins the query (weight 1), alone or with the text. */
  image?: string;
}

export class Library {
  private encoder: Promise<LibraryEncoder> | null = null;
  private readonly cache: EmbeddingCache;

  private constructor(
    private readonly catalog: Catalog,
    private readonly opts: LibraryOptions,
  ) {
    this.cache = new EmbeddingCache(catalog, kernels);
  }

  /** Opens the catalog at dbPath, creating it when absent. */
  static async open(dbPath: string, opts: LibraryOptions = {}): Promise<Library> {
    return new Library(await openCatalog(dbPath, { create: true }), opts);
  }

  /** Opens an existing catalog only (search, duplicates): a wrong --db is an error, not a new file. */
  static async openExisting(dbPath: string, opts: LibraryOptions = {}): Promise<Library> {
    return new Library(await openCatalog(dbPath), opts);
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
    if (opts.image !== undefined) terms.push({ kind: 'image', value: opts.image, weight: 1 });
    if (terms.length === 0) throw new UsageError('empty query: give a text, an --image, or both');
    if (!(await this.catalog.model())) return [];
    const encoder = await this.loadEncoder();
    await this.catalog.checkModel(encoder.identity);
    const vector = await queryVector(terms, encoder);
    return searchVector(vector, k, this.catalog, await this.cache.get(), kernels);
  }

  /** Groups of files whose embeddings have cosine ≥ threshold to another member. */
  async duplicates(threshold = 0.95): Promise<DuplicateGroup[]> {
    if (!(await this.catalog.model())) return [];
    return findDuplicates(this.catalog, await this.cache.get(), threshold, kernels);
  }

  async close(): Promise<void> {
    const encoder = this.encoder;
    this.encoder = null;
    if (encoder) (await encoder.catch(() => null))?.dispose();
    await this.catalog.close();
  }

  private loadEncoder(): Promise<LibraryEncoder> {
    this.encoder ??= (async () => {
      const spec = this.opts.model ?? (await this.catalog.model())?.dir ?? undefined;
      const dir = path.resolve(await resolveModel(spec));
      return loadLibraryEncoder(dir, { backend: this.opts.backend, device: this.opts.device, threads: this.opts.threads });
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
export type { DuplicateGroup } from './duplicates.js';
export type { CatalogCounts, CatalogModel, FileError, StoreFormat } from './catalog/index.js';
export type { QueryTerm } from './query.js';
export { parseQuery } from './query.js';
