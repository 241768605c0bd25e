// Picks and builds the backend for a model directory: 'auto' runs the native backend when the
// directory has model.safetensors, else onnx; also onnx when the native addon does not load on
// this machine and the directory has ONNX files to fall back on.
import { UsageError } from '../errors.js';
import { checkIntRange, LIMITS } from '../limits.js';
import type { ModelDir } from '../model/model-dir.js';
import type { Backend, ClipLoadOptions } from '../types.js';
import { createOnnxBackend } from './onnx.js';

export async function createBackend(model: ModelDir, opts: ClipLoadOptions = {}): Promise<Backend> {
  if (opts.threads !== undefined) checkIntRange('threads', opts.threads, LIMITS.threads);
  if (opts.batchSize !== undefined) checkIntRange('batchSize', opts.batchSize, LIMITS.batchSize);
  const choice = opts.backend ?? 'auto';
  switch (choice) {
    case 'onnx':
      return createOnnxBackend(model, opts);
    case 'native':
      return createNative(model, opts);
    case 'auto': {
      if (model.files.safetensors === undefined) return createOnnxBackend(model, opts);
      const hasOnnx = model.files.visionOnnx !== undefined && model.files.textOnnx !== undefined;
      if (hasOnnx && !(await import('@clipkit/native-cuda')).nativeAvailable()) return createOnnxBackend(model, opts);
      return createNative(model, opts);
    }
    default:
      throw new UsageError(`backend must be 'auto', 'native' or 'onnx', got ${JSON.stringify(choice)}`);
  }
}

/** Imported on demand: onnx-only use never loads the native backend's modules. */
async function createNative(model: ModelDir, opts: ClipLoadOptions): Promise<Backend> {
  const { createNativeBackend } = await import('./native/index.js');
  return createNativeBackend(model, opts);
}
