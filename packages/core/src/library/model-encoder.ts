// The LibraryEncoder over a real model: Clip for the encoders, the image pipeline in fast mode
// (shrink-on-load) for decoding. Query images go through the same pipeline as imported ones, so
// a photo searched by itself scores ≈ 1.
import { Clip } from '../clip.js';
import { ClipkitError } from '../errors.js';
import { ImagePreprocessor } from '../image/preprocess.js';
import { weightsFingerprint } from '../model/fingerprint.js';
import { discoverModelFiles } from '../model/model-dir.js';
import type { ClipLoadOptions } from '../types.js';
import type { LibraryEncoder, PreparedBatch } from './encoder.js';

export async function loadLibraryEncoder(dir: string, opts: ClipLoadOptions = {}): Promise<LibraryEncoder> {
  const clip = await Clip.load(dir, opts);
  // Two batch buffers suffice: the import pipeline fills batch i+1 only after batch i-1 has
  // been encoded and written.
  const images = ImagePreprocessor.fromModelDir(dir, { mode: 'fast', buffers: 2 });
  const info = clip.info;
  let weightsHash: string;
  try {
    weightsHash = await weightsFingerprint(discoverModelFiles(dir));
  } catch (err) {
    clip.dispose();
    throw err;
  }
  return {
    identity: { id: info.id, projectionDim: info.projectionDim, configHash: info.configHash, weightsHash, dir: info.dir },
    precision: clip.precision,
    logitScale: info.logitScale,
    async prepare(files, clocks): Promise<PreparedBatch> {
      const { pixels, errors } = await images.preprocess(files.map((f) => f.bytes), undefined, clocks);
      const rows = errors.map((err, i) => (err === null ? i : withPath(err, (files[i] as { path: string }).path)));
      return { pixels, rows };
    },
    encodeImages: (pixels) => clip.encodeImages(pixels, { normalize: true }),
    encodeTexts: (texts) => clip.encodeTexts(texts, { normalize: true }),
    warm: () => clip.warm(),
    dispose: () => clip.dispose(),
  };
}

/** The pipeline names a buffer input "<buffer of N bytes>"; the catalog wants the file. */
function withPath(err: ClipkitError, file: string): ClipkitError {
  const prefix = err.path !== undefined ? `${err.path}: ` : '';
  const reason = prefix && err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
  return new ClipkitError(err.code, reason, file, { cause: err });
}
