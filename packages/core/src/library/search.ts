// Exact search: the query becomes one normalised vector (a weighted sum of its terms), scored
// against every stored embedding by the addon's similarity top-k. The matrix is read from the
// catalog once and kept until the catalog changes.
import type { NativeKernels } from '@clipkit/native-cuda';
import { UsageError } from '../errors.js';
import { checkIntRange, LIMITS } from '../limits.js';
import type { Catalog, EmbeddingMatrix } from './catalog/index.js';
import type { LibraryEncoder } from './encoder.js';
import type { QueryTerm } from './query.js';
import { fsReason, readRegularFile } from '../util/files.js';

export interface SearchHit {
  /** The file's catalog id (what `clipkit serve` addresses it by). */
  id: number;
  path: string;
  /** Cosine similarity to the query vector. */
  score: number;
}

/**
 * The catalog's embeddings in memory, reloaded only when the catalog has changed. The matrix is
 * addon memory (hostArray): on huge pages a top-k streams it up to 1.8× faster than over a
 * plain typed array's 4 KiB pages.
 */
export class EmbeddingCache {
  private token = '';
  private matrix: EmbeddingMatrix | null = null;

  constructor(
    private readonly catalog: Catalog,
    private readonly kernels: NativeKernels,
  ) {}

  async get(): Promise<EmbeddingMatrix> {
    const token = await this.catalog.changeToken();
    if (this.matrix && token !== this.token && this.catalog.embeddingsAdded) {
      // Only new contents since the last load (an import running meanwhile): append them.
      const added = await this.catalog.embeddingsAdded(this.token, token);
      if (added) {
        this.matrix = this.append(this.matrix, added);
        this.token = token;
      }
    }
    if (!this.matrix || token !== this.token) {
      this.matrix = await this.catalog.embeddings(this.alloc);
      this.token = token;
    }
    return this.matrix;
  }

  private readonly alloc = (length: number, store: 'f32' | 'f16') =>
    store === 'f16' ? this.kernels.hostArray(length, 'f16') : this.kernels.hostArray(length);

  private append(old: EmbeddingMatrix, added: EmbeddingMatrix): EmbeddingMatrix {
    if (added.rows === 0) return old;
    const rows = old.rows + added.rows;
    const data = this.alloc(rows * old.dim, old.store);
    data.set(old.data as never);
    data.set(added.data as never, old.rows * old.dim);
    const contentIds = new Int32Array(rows);
    contentIds.set(old.contentIds);
    contentIds.set(added.contentIds, old.rows);
    return { contentIds, data, rows, dim: old.dim, store: old.store };
  }
}

/** An image given as bytes rather than a path (an upload), weighted like a query term. */
export interface QueryImage {
  /** Names the image in errors. */
  name: string;
  bytes: Uint8Array;
  weight: number;
}

/** Σ weight·embedding over the terms and images, L2-normalised. */
export async function queryVector(
  terms: readonly QueryTerm[],
  encoder: LibraryEncoder,
  uploads: readonly QueryImage[] = [],
): Promise<Float32Array> {
  if (terms.length === 0 && uploads.length === 0) throw new UsageError('empty query: give a text, an --image, or both');
  const dim = encoder.identity.projectionDim;
  const texts = terms.filter((t) => t.kind === 'text');
  const images = [...(await readQueryImages(terms.filter((t) => t.kind === 'image'))), ...uploads];
  const textVecs = texts.length > 0 ? await encoder.encodeTexts(texts.map((t) => t.value)) : new Float32Array(0);
  const imageVecs = images.length > 0 ? await encodeQueryImages(images, encoder) : new Float32Array(0);
  const out = new Float32Array(dim);
  const accumulate = (vecs: Float32Array, group: ReadonlyArray<{ weight: number }>) =>
    group.forEach((t, r) => {
      for (let j = 0; j < dim; j++) out[j] = (out[j] as number) + t.weight * (vecs[r * dim + j] as number);
    });
  accumulate(textVecs, texts);
  accumulate(imageVecs, images);
  let norm = 0;
  for (const v of out) norm += v * v;
  norm = Math.sqrt(norm);
  if (!(norm > 1e-6)) throw new UsageError('query terms cancel out: their weighted sum is the zero vector');
  for (let j = 0; j < dim; j++) out[j] = (out[j] as number) / norm;
  return out;
}

function readQueryImages(terms: readonly QueryTerm[]): Promise<QueryImage[]> {
  return Promise.all(
    terms.map(async (t) => {
      try {
        return { name: t.value, bytes: await readRegularFile(t.value), weight: t.weight };
      } catch (err) {
        throw new UsageError(`--image ${t.value}: cannot read (${fsReason(err)})`, { cause: err });
      }
    }),
  );
}

async function encodeQueryImages(images: readonly QueryImage[], encoder: LibraryEncoder): Promise<Float32Array> {
  const { pixels, rows } = await encoder.prepare(images.map((im) => ({ path: im.name, bytes: im.bytes })));
  for (const row of rows) if (typeof row !== 'number') throw row;
  return encoder.encodeImages(pixels);
}

/** The stored embedding of one content as float32, or undefined when it has none in `matrix`. */
export function storedVector(matrix: EmbeddingMatrix, contentId: number, kernels: NativeKernels): Float32Array | undefined {
  // contentIds ascend (the catalog reads them ORDER BY id): binary search.
  let lo = 0;
  let hi = matrix.rows - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const id = matrix.contentIds[mid] as number;
    if (id === contentId) {
      const row = matrix.data.subarray(mid * matrix.dim, (mid + 1) * matrix.dim);
      return row instanceof Uint16Array ? kernels.fromFloat16(row) : row.slice();
    }
    if (id < contentId) lo = mid + 1;
    else hi = mid - 1;
  }
  return undefined;
}

/**
 * The k best files for a query vector, after skipping the first `offset` (paging). Top-k runs
 * over distinct contents; a content stored at several paths yields one hit per path (same
 * score), cut back to k.
 */
export async function searchVector(
  query: Float32Array,
  k: number,
  catalog: Catalog,
  matrix: EmbeddingMatrix,
  kernels: NativeKernels,
  offset = 0,
): Promise<SearchHit[]> {
  checkIntRange('k', k, LIMITS.topK);
  // The top-k kernel ranks at most LIMITS.topK candidates: a page must end within them.
  checkIntRange('offset + k', offset + k, LIMITS.topK);
  if (query.length !== matrix.dim) throw new UsageError(`query has dim ${query.length}, catalog has ${matrix.dim}`);
  if (matrix.rows === 0) return [];
  const want = offset + k;
  const top = kernels.similarityTopK(query, matrix.data, { m: 1, n: matrix.rows, d: matrix.dim, k: Math.min(want, matrix.rows) });
  const ids = Array.from(top.indices, (row) => matrix.contentIds[row] as number);
  const files = await catalog.files(ids);
  const hits: SearchHit[] = [];
  ids.forEach((id, i) => {
    for (const f of files.get(id) ?? []) hits.push({ id: f.id, path: f.path, score: top.scores[i] as number });
  });
  return hits.slice(offset, want);
}

/** The k best files by the engine's own index (catalog.nearest): approximate, server-side. */
export async function searchIndex(query: Float32Array, k: number, catalog: Catalog, offset = 0): Promise<SearchHit[]> {
  checkIntRange('k', k, LIMITS.topK);
  checkIntRange('offset + k', offset + k, LIMITS.topK);
  if (!catalog.nearest) throw new UsageError(`${catalog.path}: this catalog has no search index`);
  const want = offset + k;
  const top = await catalog.nearest(query, want);
  const files = await catalog.files(top.map((t) => t.contentId));
  const hits: SearchHit[] = [];
  for (const t of top) for (const f of files.get(t.contentId) ?? []) hits.push({ id: f.id, path: f.path, score: t.score });
  return hits.slice(offset, want);
}
