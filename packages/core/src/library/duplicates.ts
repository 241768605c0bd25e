// Near-duplicate groups: every pair of stored images with cosine ≥ threshold, found by scoring
// the embedding matrix against itself one block pair at a time (memory: one block × block score
// tile, never n × n), joined into groups by union-find.
import type { NativeKernels } from '@clipkit/native-cuda';
import { UsageError } from '../errors.js';
import type { Catalog, EmbeddingMatrix } from './catalog/index.js';

export interface DuplicateGroup {
  /** Every present path in the group, sorted. */
  paths: string[];
  /** The catalog file id of each path, in the same order. */
  ids: number[];
  /** The lowest similarity among the pairs (each ≥ threshold) that joined the group; 1 when it
   * holds only byte-identical files. */
  minScore: number;
}

const BLOCK = 1024;

export async function findDuplicates(
  catalog: Catalog,
  matrix: EmbeddingMatrix,
  threshold: number,
  kernels: NativeKernels,
  block = BLOCK,
): Promise<DuplicateGroup[]> {
  if (!(threshold > -1 && threshold <= 1)) throw new UsageError(`threshold must be in (-1, 1], got ${threshold}`);
  const { rows: n, dim: d } = matrix;
  const parent = Int32Array.from({ length: n }, (_, i) => i);
  const minScore = new Float32Array(n).fill(1);
  const find = (i: number): number => {
    while (parent[i] !== i) {
      const up = parent[parent[i] as number] as number;
      parent[i] = up; // path halving
      i = up;
    }
    return i;
  };
  const union = (a: number, b: number, score: number) => {
    const ra = find(a);
    const rb = find(b);
    const low = Math.min(minScore[ra] as number, minScore[rb] as number, score);
    if (ra !== rb) parent[Math.max(ra, rb)] = Math.min(ra, rb);
    minScore[Math.min(ra, rb)] = low;
  };

  const tile = new Float32Array(block * block);
  const rowsOf = (start: number, count: number) => matrix.data.subarray(start * d, (start + count) * d);
  for (let i0 = 0; i0 < n; i0 += block) {
    const m = Math.min(block, n - i0);
    const a = rowsOf(i0, m);
    // The left operand must be float32; an f16 catalog widens one block at a time.
    const left = a instanceof Uint16Array ? kernels.fromFloat16(a) : a;
    for (let j0 = i0; j0 < n; j0 += block) {
      const cols = Math.min(block, n - j0);
      const out = tile.subarray(0, m * cols);
      kernels.similarity(left, rowsOf(j0, cols), out, { m, n: cols, d });
      for (let i = 0; i < m; i++) {
        for (let j = j0 === i0 ? i + 1 : 0; j < cols; j++) {
          const s = out[i * cols + j] as number;
          if (s >= threshold) union(i0 + i, j0 + j, s);
        }
      }
    }
  }

  const members = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const r = find(i);
    const list = members.get(r);
    if (list) list.push(i);
    else members.set(r, [i]);
  }
  const files = await catalog.files(matrix.contentIds);
  const groups: DuplicateGroup[] = [];
  for (const [root, rows] of members) {
    const group = rows.flatMap((r) => files.get(matrix.contentIds[r] as number) ?? []).sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
    if (group.length > 1) groups.push({ paths: group.map((f) => f.path), ids: group.map((f) => f.id), minScore: minScore[root] as number });
  }
  return groups.sort((x, y) => y.paths.length - x.paths.length || (x.paths[0] as string).localeCompare(y.paths[0] as string));
}
