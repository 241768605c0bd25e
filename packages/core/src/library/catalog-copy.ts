// `clipkit catalog copy`: moves a catalog between engines (SQLite ⇄ PostgreSQL) without the model:
// every content's stored embedding is carried over as it is, converted only between f32 and f16
// when the two catalogs store different formats, with its present files and imported folders.
import type { NativeKernels } from '@clipkit/native-cuda';
import { UsageError } from '../errors.js';
import { openCatalog, type BatchEntry, type Catalog, type DumpedContent, type StoreFormat } from './catalog/index.js';

export interface CopySummary {
  from: string;
  to: string;
  contents: number;
  files: number;
  store: StoreFormat;
}

const PAGE = 1000;

export async function copyCatalog(from: string, to: string, kernels: NativeKernels): Promise<CopySummary> {
  if (from === to) throw new UsageError('catalog copy: --from and --to name the same catalog');
  const src = await openCatalog(from, { readOnly: true });
  let dst: Catalog | null = null;
  try {
    const model = await src.model();
    if (!model) throw new UsageError(`catalog copy: ${src.path} holds nothing to copy`);
    dst = await openCatalog(to, { create: true });
    const lease = await dst.acquireWriter();
    try {
      // A new SQLite catalog keeps the source's format; PostgreSQL always stores f16.
      const bound = await dst.bindModel(
        { id: model.id, projectionDim: model.projectionDim, configHash: model.configHash, weightsHash: model.weightsHash ?? null, dir: model.dir },
        dst.storage.engine === 'sqlite' && !(await dst.model()) ? model.store : undefined,
      );
      let contents = 0;
      let files = 0;
      for (let after = 0; ; ) {
        const page = await src.dump(after, PAGE);
        if (page.length === 0) break;
        after = (page[page.length - 1] as DumpedContent).id;
        const entries: BatchEntry[] = [];
        for (const c of page) {
          if (c.files.length === 0) continue; // only missing files point at it: nothing to carry
          if (c.error || !c.embedding) {
            entries.push({ files: c.files, content: { hash: c.hash, error: c.error ?? { code: 'ERROR', message: 'no embedding' } } });
          } else {
            const embedding = convert(c.embedding, model.store, bound.store, kernels);
            entries.push({ files: c.files, content: { hash: c.hash, embedding, precision: c.precision ?? undefined } });
          }
          contents++;
          files += c.files.length;
        }
        if (entries.length > 0) await dst.writeBatch(entries);
      }
      for (const root of await src.roots()) await dst.addRoot(root);
      return { from: src.path, to: dst.path, contents, files, store: bound.store };
    } finally {
      await lease.release();
    }
  } finally {
    await dst?.close();
    await src.close();
  }
}

/** One row of little-endian values from one store format to another. */
function convert(row: Uint8Array, from: StoreFormat, to: StoreFormat, kernels: NativeKernels): Uint8Array {
  if (from === to) return row;
  const aligned = row.slice(); // typed-array views need aligned offsets
  if (from === 'f32') {
    const half = kernels.toFloat16(new Float32Array(aligned.buffer));
    return new Uint8Array(half.buffer, half.byteOffset, half.byteLength);
  }
  const full = kernels.fromFloat16(new Uint16Array(aligned.buffer));
  return new Uint8Array(full.buffer, full.byteOffset, full.byteLength);
}
