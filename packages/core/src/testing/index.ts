// @clipkit/core/testing: seeded fixtures for tests and benchmarks (random CLIP model directories,
// pixels, token ids). Not part of the runtime API.
export {
  writeRandomClipModel,
  randomPixels,
  randomInputIds,
  TINY_VISION,
  TINY_TEXT,
  VIT_B32_VISION,
  VIT_B32_TEXT,
} from './random-model.js';
export type {
  RandomClipModelOptions,
  RandomClipModel,
  RandomVisionOptions,
  RandomTextOptions,
  RandomIdsOptions,
} from './random-model.js';
export { Prng } from './prng.js';
export { writeClipOnnx } from './onnx-export.js';
export type { Weights, OnnxLayout } from './onnx-export.js';
export { OnnxGraph } from './onnx-graph.js';
export { referenceEncodeImages, referenceEncodeTexts } from './reference-forward.js';
export type { WeightLookup, ReferenceOutput } from './reference-forward.js';
export { writeSyntheticCatalog } from './synthetic-catalog.js';
export type { SyntheticCatalogOptions } from './synthetic-catalog.js';
export { fillCatalog, clusteredUnitVectors, catalogQueries } from './catalog-fill.js';
export type { FillOptions } from './catalog-fill.js';
export { openCatalog } from '../library/catalog/index.js';
export type { Catalog } from '../library/catalog/index.js';
export { PgCatalog } from '../library/catalog/postgres/catalog.js';
export { freshDatabase, dropDatabase, sql } from './postgres.js';
export { hnswGraphBytesPerRow } from '../library/catalog/postgres/hnsw-memory.js';
export { minRowCosine } from './cosine.js';
