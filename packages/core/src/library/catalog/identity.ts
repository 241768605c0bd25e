// The rule every catalog engine applies before it accepts a model: embeddings of two models are
// not comparable, so a catalog holds one model's. Architecture (projection dim, config hash) and
// weights (sha256) must both match; a catalog made before weights were fingerprinted accepts the
// first fingerprint it is shown and records it.
import { CatalogMismatchError } from '../../errors.js';
import type { CatalogModel, ModelIdentity, StoreFormat } from './types.js';

/** The `model` table's row, the same in both engines' schemas. */
export interface ModelRow {
  model_id: string;
  projection_dim: number;
  config_hash: string;
  weights_sha256: string | null;
  store: StoreFormat;
  model_dir: string | null;
}

export function modelFromRow(row: ModelRow): CatalogModel {
  return {
    id: row.model_id,
    projectionDim: row.projection_dim,
    configHash: row.config_hash,
    weightsHash: row.weights_sha256,
    store: row.store,
    dir: row.model_dir,
  };
}

/** Throws CatalogMismatchError naming both models unless `model` may join the catalog at `path`. */
export function checkModelIdentity(current: CatalogModel | null, model: ModelIdentity, path: string, store?: StoreFormat): void {
  if (!current) return;
  if (current.configHash !== model.configHash || current.projectionDim !== model.projectionDim) {
    throw new CatalogMismatchError(
      `catalog was built with model ${current.id} (dim ${current.projectionDim}, config ${current.configHash.slice(0, 12)}); ` +
        `refusing to mix in ${model.id} (dim ${model.projectionDim}, config ${model.configHash.slice(0, 12)}): use another --db`,
      path,
    );
  }
  if (current.weightsHash && model.weightsHash && current.weightsHash !== model.weightsHash) {
    throw new CatalogMismatchError(
      `catalog was built with model ${current.id} (weights sha256 ${current.weightsHash.slice(0, 12)}${current.dir ? `, ${current.dir}` : ''}); ` +
        `refusing ${model.id} (weights sha256 ${model.weightsHash.slice(0, 12)}${model.dir ? `, ${model.dir}` : ''}): ` +
        'same architecture, other weights, so their embeddings are not comparable: use another --db',
      path,
    );
  }
  if (store !== undefined && store !== current.store) {
    throw new CatalogMismatchError(`catalog stores ${current.store} embeddings; cannot add ${store} ones: use another --db`, path);
  }
}
