// Embedding rows as catalog blobs: float32, or IEEE half (`--store f16`, half the size; cosine
// scores move by ~1e-3, well below what ranks photos differently in practice).
import type { NativeKernels } from '@clipkit/native-cuda';
import type { StoreFormat } from './catalog/index.js';

/** Splits [n, dim] vectors into one little-endian blob per row, each owning its bytes. */
export function encodeEmbeddingRows(vectors: Float32Array, dim: number, store: StoreFormat, kernels: NativeKernels): Uint8Array[] {
  const values = store === 'f16' ? kernels.toFloat16(vectors) : vectors;
  const bytesPerRow = dim * values.BYTES_PER_ELEMENT;
  const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const rows: Uint8Array[] = [];
  for (let off = 0; off < bytes.length; off += bytesPerRow) rows.push(bytes.slice(off, off + bytesPerRow));
  return rows;
}
