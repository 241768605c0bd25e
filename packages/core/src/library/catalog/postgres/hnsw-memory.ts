// How much maintenance_work_mem a pgvector HNSW build gets. pgvector builds the graph in memory
// while it fits in maintenance_work_mem and otherwise inserts the remaining rows into the index
// on disk, several times slower. PostgreSQL's default (64 MB) holds about 35k rows of 512-d.

/**
 * Graph bytes per row in pgvector 0.8's in-memory build: the halfvec plus its neighbour lists
 * (m 16). Measured: 1.80 KB per 512-d row (its "no longer fits after N tuples" notice).
 */
export const hnswGraphBytesPerRow = (dim: number): number => dim * 2 + 800;

/**
 * clipkit raises its own build session no further than this: the memory is the database
 * server's, which may be small and shared. A larger catalog needs the setting raised on the
 * server (`ALTER DATABASE … SET maintenance_work_mem`), which clipkit then keeps.
 */
export const HNSW_SESSION_MEMORY_CAP = 1 << 30;

/**
 * maintenance_work_mem in bytes for building the index over `rows` vectors of `dim`, given the
 * session's current setting: the graph's size plus a tenth, capped, and never below `current`.
 */
export function hnswBuildMemory(rows: number, dim: number, current: number): number {
  const graph = Math.ceil(rows * hnswGraphBytesPerRow(dim) * 1.1);
  return Math.max(current, Math.min(graph, HNSW_SESSION_MEMORY_CAP));
}
