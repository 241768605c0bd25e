// Picks and builds the backend for a model directory: 'auto' runs the native backend when the
// directory has model.safetensors, else onnx (also when the native addon is not built here but
// the directory has ONNX files).
import { ClipkitError, UsageError } from '../errors.js';
import type { ModelDir } from '../model/model-dir.js';
import type { Backend, ClipLoadOptions } from '../types.js';
import { createOnnxBackend } from './onnx.js';

type NativeFactory = (model: ModelDir, opts: ClipLoadOptions) => Promise<Backend>;

export async function createBackend(model: ModelDir, opts: ClipLoadOptions = {}): Promise<Backend> {
  const choice = opts.backend ?? 'auto';
  switch (choice) {
    case 'onnx':
      return createOnnxBackend(model, opts);
    case 'native':
      return (await loadNative())(model, opts);
    case 'auto': {
      if (model.files.safetensors === undefined) return createOnnxBackend(model, opts);
      const hasOnnx = model.files.visionOnnx !== undefined && model.files.textOnnx !== undefined;
      const native = await loadNative().catch((err: unknown) => {
        if (hasOnnx) return undefined;
        throw err;
      });
      return native === undefined ? createOnnxBackend(model, opts) : native(model, opts);
    }
    default:
      throw new UsageError(`backend must be 'auto', 'native' or 'onnx', got ${JSON.stringify(choice)}`);
  }
}

/** Imported on demand so the onnx path works where the native addon is not built. */
async function loadNative(): Promise<NativeFactory> {
  try {
    return (await import('./native/index.js')).createNativeBackend;
  } catch (err) {
    if (err instanceof ClipkitError) throw err;
    throw new Error(`the native backend is unavailable (is @clipkit/native-cuda built?): ${(err as Error).message}`, { cause: err });
  }
}
