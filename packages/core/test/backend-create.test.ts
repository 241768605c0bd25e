// createBackend: explicit choices, and 'auto' = native with safetensors (when the addon loads),
// onnx otherwise.
import { rmSync } from 'node:fs';
import path from 'node:path';
import { nativeAvailable } from '@clipkit/native-cuda';
import { describe, expect, it } from 'vitest';
import { createBackend } from '../src/backends/create.js';
import { UsageError } from '../src/errors.js';
import { openModelDir } from '../src/model/model-dir.js';
import type { BackendName } from '../src/types.js';
import { writeRandomClipModel } from '../src/testing/random-model.js';
import { scratchDir } from './helpers/tmp-dir.js';

const tmp = scratchDir('backend-create');

function model(withWeights: boolean) {
  const dir = tmp();
  writeRandomClipModel(dir, { seed: 3, onnx: true });
  if (!withWeights) rmSync(path.join(dir, 'model.safetensors'));
  return openModelDir(dir);
}

describe('createBackend', () => {
  it("'onnx' runs onnxruntime", async () => {
    const b = await createBackend(model(true), { backend: 'onnx', threads: 1 });
    expect([b.name, b.device]).toEqual(['onnx', 'cpu']);
    b.dispose();
  });

  it("'auto' without model.safetensors runs onnx", async () => {
    const b = await createBackend(model(false), { threads: 1 });
    expect(b.name).toBe('onnx');
    b.dispose();
  });

  it("'auto' with model.safetensors runs native where the addon loads, else falls back to onnx", async () => {
    const b = await createBackend(model(true), { backend: 'auto', threads: 1 });
    expect(b.name).toBe(nativeAvailable() ? 'native' : 'onnx');
    b.dispose();
  });

  it('rejects an unknown backend name', async () => {
    await expect(createBackend(model(true), { backend: 'tpu' as BackendName })).rejects.toThrow(UsageError);
    await expect(createBackend(model(true), { backend: 'tpu' as BackendName })).rejects.toThrow(/backend must be 'auto', 'native' or 'onnx', got "tpu"/);
  });
});
