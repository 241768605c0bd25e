// A model's weights fingerprint: what makes two models of the same architecture (OpenAI's and
// LAION's ViT-B/32 share config and shapes) distinguishable, so a catalog can refuse to mix
// their embeddings. It is the sha256 of model.safetensors (or of the two ONNX files' sha256s for
// an ONNX-only directory): the hub's own sha256 when the file was pulled from a hub, else
// computed once and cached by real path, size and mtime, so loading a 600 MB model does not
// rehash it each time.
import { createHash } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { ModelFormatError } from '../errors.js';
import { kindOf } from '../util/files.js';
import { cacheRoot, hubSha256 } from './hub.js';
import type { ModelFiles } from './model-dir.js';

interface CacheEntry {
  size: number;
  mtimeMs: number;
  sha256: string;
}

const CACHE_FILE = 'fingerprints.json';

/** The weights fingerprint of a model directory: a sha256 in hex. */
export async function weightsFingerprint(files: ModelFiles): Promise<string> {
  if (files.safetensors !== undefined) return fileSha256(files.safetensors, files.dir, 'model.safetensors');
  if (files.visionOnnx !== undefined && files.textOnnx !== undefined) {
    const parts = [await fileSha256(files.visionOnnx, files.dir, 'onnx/vision_model.onnx'), await fileSha256(files.textOnnx, files.dir, 'onnx/text_model.onnx')];
    return createHash('sha256').update(parts.join('\n')).digest('hex');
  }
  throw new ModelFormatError('model directory has no weights (model.safetensors or the two ONNX encoders) to fingerprint', files.dir);
}

async function fileSha256(file: string, dir: string, name: string): Promise<string> {
  const fromHub = await hubSha256(dir, name);
  if (fromHub !== undefined) return fromHub;
  let real: string;
  let st;
  try {
    real = await fsp.realpath(file);
    st = await fsp.stat(real);
  } catch (err) {
    throw new ModelFormatError(`cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, file, { cause: err });
  }
  if (!st.isFile()) throw new ModelFormatError(`cannot read (not a regular file: ${kindOf(st)})`, file);
  const cache = await readCache();
  const hit = cache[real];
  if (hit && hit.size === st.size && hit.mtimeMs === st.mtimeMs) return hit.sha256;
  const sha256 = await hashFile(real);
  cache[real] = { size: st.size, mtimeMs: st.mtimeMs, sha256 };
  await writeCache(cache);
  return sha256;
}

function hashFile(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(file)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', (err) => reject(new ModelFormatError(`cannot read: ${err.message}`, file, { cause: err })))
      .on('end', () => resolve(hash.digest('hex')));
  });
}

async function readCache(): Promise<Record<string, CacheEntry>> {
  try {
    const value = JSON.parse(await fsp.readFile(join(cacheRoot(), CACHE_FILE), 'utf8')) as unknown;
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, CacheEntry>) : {};
  } catch {
    return {}; // absent or damaged: it is only a cache, rebuilt by hashing
  }
}

/** Written to a temporary file and renamed, so concurrent loads never read half a cache. */
async function writeCache(cache: Record<string, CacheEntry>): Promise<void> {
  const root = cacheRoot();
  const tmp = join(root, `${CACHE_FILE}.${process.pid}.tmp`);
  try {
    await fsp.mkdir(root, { recursive: true });
    await fsp.writeFile(tmp, JSON.stringify(cache));
    await fsp.rename(tmp, join(root, CACHE_FILE));
  } catch {
    // A read-only or full cache folder costs a rehash next time, nothing else.
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
  }
}
