// Typed entry point of @clipkit/native-cuda. The addon is loaded on first use, so importing this
// module never fails; a missing or broken build surfaces as a clear Error from the first call.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import type { NativeKernels } from './types.js';

export type * from './types.js';

const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Where the addon is loaded from: $CLIPKIT_NATIVE_ADDON, else build/Release/clipkit_native.node. */
export function nativeAddonPath(): string {
  const override = process.env['CLIPKIT_NATIVE_ADDON'];
  return override !== undefined && override !== ''
    ? path.resolve(override)
    : path.join(packageRoot, 'build', 'Release', 'clipkit_native.node');
}

let loaded: NativeKernels | undefined;

/** The raw addon; throws an Error explaining how to build it when it is missing or unloadable. */
export function loadNative(): NativeKernels {
  if (loaded !== undefined) return loaded;
  const file = nativeAddonPath();
  if (!existsSync(file)) {
    throw new Error(
      `@clipkit/native-cuda: the native addon is not built (${file} is missing): ` +
        'run npm run build -w @clipkit/native-cuda',
    );
  }
  const require = createRequire(import.meta.url);
  try {
    loaded = require(file) as NativeKernels;
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new Error(
      `@clipkit/native-cuda: cannot load ${file}: ${reason} ` +
        '(rebuild it with npm run build -w @clipkit/native-cuda)',
      { cause },
    );
  }
  return loaded;
}

/** Whether the addon loads on this machine (false instead of throwing). */
export function nativeAvailable(): boolean {
  try {
    loadNative();
    return true;
  } catch {
    return false;
  }
}

// Synchronous kernels throw TypeError/RangeError on bad arguments. The promise-returning ones
// are async functions, so the same validation errors arrive as rejections, never as throws.
export const nativeInfo: NativeKernels['nativeInfo'] = () => loadNative().nativeInfo();
export const setThreads: NativeKernels['setThreads'] = (...a) => loadNative().setThreads(...a);
export const tensor: NativeKernels['tensor'] = (...a) => loadNative().tensor(...a);
export const hostArray = ((length: number, dtype?: 'f32' | 'f16') =>
  loadNative().hostArray(length, dtype as 'f16')) as NativeKernels['hostArray'];
export const preprocess: NativeKernels['preprocess'] = (...a) => loadNative().preprocess(...a);
export const preprocessAsync: NativeKernels['preprocessAsync'] = async (...a) =>
  loadNative().preprocessAsync(...a);
export const preprocessJpeg: NativeKernels['preprocessJpeg'] = (...a) => loadNative().preprocessJpeg(...a);
export const preprocessJpegAsync: NativeKernels['preprocessJpegAsync'] = async (...a) =>
  loadNative().preprocessJpegAsync(...a);
export const preprocessCrop: NativeKernels['preprocessCrop'] = (...a) =>
  loadNative().preprocessCrop(...a);
export const linear: NativeKernels['linear'] = (...a) => loadNative().linear(...a);
export const linearAsync: NativeKernels['linearAsync'] = async (...a) =>
  loadNative().linearAsync(...a);
export const layerNorm: NativeKernels['layerNorm'] = (...a) => loadNative().layerNorm(...a);
export const add: NativeKernels['add'] = (...a) => loadNative().add(...a);
export const activation: NativeKernels['activation'] = (...a) => loadNative().activation(...a);
export const softmax: NativeKernels['softmax'] = (...a) => loadNative().softmax(...a);
export const attention: NativeKernels['attention'] = (...a) => loadNative().attention(...a);
export const attentionAsync: NativeKernels['attentionAsync'] = async (...a) =>
  loadNative().attentionAsync(...a);
export const chainAsync: NativeKernels['chainAsync'] = async (...a) => loadNative().chainAsync(...a);
export const similarity: NativeKernels['similarity'] = (...a) => loadNative().similarity(...a);
export const similarityTopK: NativeKernels['similarityTopK'] = (...a) =>
  loadNative().similarityTopK(...a);
export const similarityTopKAsync: NativeKernels['similarityTopKAsync'] = async (...a) =>
  loadNative().similarityTopKAsync(...a);
export const toFloat16: NativeKernels['toFloat16'] = (...a) => loadNative().toFloat16(...a);
export const fromFloat16: NativeKernels['fromFloat16'] = (...a) => loadNative().fromFloat16(...a);
