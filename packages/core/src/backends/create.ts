// Picks and builds the backend for a model directory: 'auto' runs the native backend when the
// directory has model.safetensors, else onnx; also onnx when the native addon does not load on
// this machine and the directory has ONNX files to fall back on. The precision is checked before
// anything loads: bf16 on onnx is a usage error, auto on onnx is fp32.
import { UsageError } from '../errors.js';
import { checkIntRange, LIMITS } from '../limits.js';
import type { ModelDir } from '../model/model-dir.js';
import type { Backend, ClipLoadOptions } from '../types.js';
import { createOnnxBackend } from './onnx.js';
import { checkPrecision, onnxPrecision } from './precision.js';

export async function createBackend(model: ModelDir, opts: ClipLoadOptions = {}): Promise<Backend> {
  if (opts.threads !== undefined) checkIntRange('threads', opts.threads, LIMITS.threads);
  if (opts.batchSize !== undefined) checkIntRange('batchSize', opts.batchSize, LIMITS.batchSize);
  const choice = opts.backend ?? 'auto';
  const precision = checkPrecision(opts.precision ?? 'fp32');
  const onnx = (why = '') => {
    onnxPrecision(precision, why);
    return createOnnxBackend(model, opts);
  };
  switch (choice) {
    case 'onnx':
      return onnx();
    case 'native':
      return createNative(model, { ...opts, precision });
    case 'auto': {
      if (model.files.safetensors === undefined) return onnx(` (backend auto chose onnx: ${model.files.dir} has no model.safetensors)`);
      const hasOnnx = model.files.visionOnnx !== undefined && model.files.textOnnx !== undefined;
      if (hasOnnx && !(await import('@clipkit/native-cuda')).nativeAvailable()) return onnx(' (backend auto chose onnx: the native addon does not load here)');
      return createNative(model, { ...opts, precision });
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
