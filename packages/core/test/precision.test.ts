// The precision option of the API: its defaults (Clip.load and createBackend fp32, Library
// auto), what auto resolves to, and bad values or bf16 on onnx as UsageErrors before any load.
import path from 'node:path';
import { nativeInfo, type NativeInfo } from '@clipkit/native-cuda';
import { describe, expect, it } from 'vitest';
import { createBackend } from '../src/backends/create.js';
import { nativePrecision } from '../src/backends/precision.js';
import { Clip } from '../src/clip.js';
import { UsageError } from '../src/errors.js';
import { Library } from '../src/library/index.js';
import { openModelDir } from '../src/model/model-dir.js';
import { writeRandomClipModel } from '../src/testing/random-model.js';
import { makePhotoLibrary } from './helpers/photo-library.js';
import { scratchDir } from './helpers/tmp-dir.js';

const tmp = scratchDir('precision');
const dir = writeRandomClipModel(path.join(tmp(), 'model'), { seed: 9, onnx: true }).dir;
const AUTO = nativeInfo().cpu.bf16 !== null ? 'bf16' : 'fp32';

describe('precision', () => {
  it('createBackend and Clip.load default to fp32; auto is bf16 exactly where nativeInfo().cpu.bf16 names a path', async () => {
    const model = openModelDir(dir);
    const cases = [
      [{ backend: 'native' }, 'fp32'],
      [{ backend: 'native', precision: 'fp32' }, 'fp32'],
      [{ backend: 'native', precision: 'bf16' }, 'bf16'],
      [{ backend: 'native', precision: 'auto' }, AUTO],
      [{ backend: 'onnx' }, 'fp32'],
      [{ backend: 'onnx', precision: 'auto' }, 'fp32'],
    ] as const;
    for (const [opts, want] of cases) {
      const b = await createBackend(model, { ...opts, threads: 1 });
      expect(b.precision, JSON.stringify(opts)).toBe(want);
      b.dispose();
    }
    const clip = await Clip.load(dir, { backend: 'native' });
    expect(clip.precision).toBe('fp32');
    clip.dispose();
  });

  it('refuses other values and bf16 on onnx with a UsageError naming the choices or the native backend', async () => {
    const model = openModelDir(dir);
    await expect(createBackend(model, { precision: 'fp16' as never })).rejects.toThrow(/precision must be one of fp32, bf16, auto, got "fp16"/);
    await expect(Clip.load(dir, { precision: 'half' as never })).rejects.toBeInstanceOf(UsageError);
    const onnxBf16 = createBackend(model, { backend: 'onnx', precision: 'bf16' });
    await expect(onnxBf16).rejects.toBeInstanceOf(UsageError);
    await expect(onnxBf16).rejects.toThrow(/precision bf16 runs on the native backend only: onnx computes in fp32; use backend native/);
    // auto choosing onnx (no model.safetensors) says why onnx was picked.
    const onnxOnly = openModelDir(dir);
    const noWeights = { ...onnxOnly, files: { ...onnxOnly.files, safetensors: undefined } };
    await expect(createBackend(noWeights, { precision: 'bf16' })).rejects.toThrow(/backend auto chose onnx: .* has no model.safetensors/);
    await expect(Library.open(path.join(tmp(), 'x.db'), { precision: 'fp64' as never })).rejects.toThrow(/precision must be one of/);
  });

  it('auto: AVX512_BF16 or AMX on the CPU; on CUDA, a device with bf16 tensor cores', () => {
    const info = (bf16: NativeInfo['cpu']['bf16'], cc?: string): NativeInfo => ({
      version: 'x',
      cpu: { isa: 'avx512', threads: 2, bf16, bf16Note: null },
      cuda: { compiled: true, available: cc !== undefined, devices: cc === undefined ? [] : [{ name: 'gpu', computeCapability: cc, memoryBytes: 1 }], error: null },
    });
    expect(nativePrecision('auto', info('amx'), 'cpu')).toBe('bf16');
    expect(nativePrecision('auto', info('avx512_bf16'), 'cpu')).toBe('bf16');
    expect(nativePrecision('auto', info(null), 'cpu')).toBe('fp32');
    expect(nativePrecision('bf16', info(null), 'cpu')).toBe('bf16');
    expect(nativePrecision('fp32', info('amx'), 'cpu')).toBe('fp32');
    expect(nativePrecision('auto', info(null, '9.0'), 'cuda')).toBe('bf16');
    expect(nativePrecision('auto', info('amx', '7.5'), 'cuda')).toBe('fp32');
  });

  it(`Library defaults to auto (${AUTO} here) and records it with each imported row`, async () => {
    const lib = await makePhotoLibrary(path.join(tmp(), 'photos'), { photos: 3, seed: 1 });
    const library = await Library.open(path.join(tmp(), 'lib.db'), { model: dir });
    try {
      const summary = await library.import(lib.root);
      expect(summary.precision).toBe(AUTO);
      expect(await library.precisions()).toEqual({ [AUTO]: lib.images.length });
    } finally {
      await library.close();
    }
  });
});
