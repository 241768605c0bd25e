// Generated ONNX encoders (writeRandomClipModel with onnx: true) run by the onnx backend must
// match the float64 TypeScript reference forward of the same weights.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createOnnxBackend } from '../src/backends/onnx.js';
import { UsageError } from '../src/errors.js';
import { openModelDir, openWeights } from '../src/model/model-dir.js';
import type { HiddenAct } from '../src/model/config.js';
import type { FloatDType } from '../src/model/safetensors.js';
import { referenceEncodeImages, referenceEncodeTexts } from '../src/testing/reference-forward.js';
import { randomInputIds, randomPixels, writeRandomClipModel } from '../src/testing/random-model.js';
import { writeClipOnnx } from '../src/testing/onnx-export.js';
import { OnnxGraph } from '../src/testing/onnx-graph.js';
import { expectClose } from './helpers/compare.js';
import { scratchDir } from './helpers/tmp-dir.js';

const tmp = scratchDir('onnx-generated');
const BOUNDS = { rel: 1e-5, maxAbs: 1e-4 };

const variants: Array<{ act: HiddenAct; dtype: FloatDType; seed: number }> = [
  { act: 'quick_gelu', dtype: 'F32', seed: 1 },
  { act: 'gelu', dtype: 'F16', seed: 2 },
  { act: 'quick_gelu', dtype: 'BF16', seed: 3 },
];

describe.each(variants)('generated $act $dtype model', ({ act, dtype, seed }) => {
  it('onnx backend matches the float64 reference for images and texts', async () => {
    const dir = tmp();
    writeRandomClipModel(dir, {
      seed,
      hiddenAct: act,
      dtype,
      onnx: true,
      vision: { imageSize: 32, patchSize: 8, hidden: 48, layers: 2, heads: 3, mlp: 96 },
      text: { vocabSize: 600, hidden: 32, layers: 2, heads: 2, mlp: 64, contextLength: 16 },
      projectionDim: 24,
    });
    const model = openModelDir(dir, { weights: true, onnx: true });
    const st = openWeights(model);
    const weights = (name: string, shape: readonly number[]) => st.getTensor(name, shape);
    const backend = await createOnnxBackend(model, { threads: 1, batchSize: 2 });
    try {
      const pixels = randomPixels(3, 32, seed + 10);
      const img = await backend.encodeImages({ data: pixels, n: 3, size: 32 });
      expectClose(img, referenceEncodeImages(model.config, weights, pixels, 3).embeds, BOUNDS, 'image_embeds');

      // Lengths cover 2 (bos, eos) and the full context; pad 0 and pad eos must give the same.
      const lengths = [2, 7, 16, 11];
      const ids = randomInputIds(4, { contextLength: 16, vocabSize: 600, seed: seed + 20, lengths });
      const ref = referenceEncodeTexts(model.config, weights, ids, 4).embeds;
      expectClose(await backend.encodeTexts(ids, 4), ref, BOUNDS, 'text_embeds (pad 0)');
      const eosPadded = randomInputIds(4, { contextLength: 16, vocabSize: 600, seed: seed + 20, lengths, pad: 599 });
      expect(eosPadded).not.toEqual(ids);
      expectClose(await backend.encodeTexts(eosPadded, 4), ref, BOUNDS, 'text_embeds (pad eos)');
    } finally {
      backend.dispose();
    }
  });
});

describe('onnx backend options', () => {
  it('feeds an attention_mask input with 1 up to each first EOT, 0 after', async () => {
    const dir = tmp();
    const L = 16;
    const { config } = writeRandomClipModel(dir, { seed: 14, onnx: true, text: { vocabSize: 600, hidden: 32, layers: 1, heads: 2, mlp: 64, contextLength: L } });
    // A text graph whose output is the mask it was given: text_embeds[r] = mask[r] · [I | 0].
    const g = new OnnxGraph('mask_echo');
    const ids = g.input('input_ids', 'int64', ['batch_size', L]);
    const mask = g.input('attention_mask', 'int64', ['batch_size', L]);
    const dim = config.projectionDim;
    const eye = new Float32Array(L * dim);
    for (let i = 0; i < L; i++) eye[i * dim + i] = 1;
    const zeroIds = g.node('Mul', [g.node('Cast', [ids], { to: 1 }), g.floats('zero', [], Float32Array.of(0))]);
    const maskF = g.node('Add', [g.node('Cast', [mask], { to: 1 }), zeroIds]);
    g.node('MatMul', [maskF, g.floats('eye', [L, dim], eye)], {}, 'text_embeds');
    g.output('text_embeds', 'float32', ['batch_size', dim]);
    g.write(path.join(dir, 'onnx', 'text_model.onnx'));

    const backend = await createOnnxBackend(openModelDir(dir), { threads: 1 });
    try {
      const rows = randomInputIds(2, { contextLength: L, vocabSize: 600, seed: 15, lengths: [3, L], pad: 599 });
      const out = await backend.encodeTexts(rows, 2);
      const expected = new Float32Array(2 * dim);
      expected.fill(1, 0, 3);
      expected.fill(1, dim, dim + L);
      expect(out).toEqual(expected);
    } finally {
      backend.dispose();
    }
  });

  it("device 'cuda' either runs on CUDA or says why not", async () => {
    const dir = tmp();
    writeRandomClipModel(dir, { seed: 9, onnx: true });
    const model = openModelDir(dir);
    const result = await createOnnxBackend(model, { device: 'cuda' }).then(
      (b) => b,
      (e: unknown) => e,
    );
    if (result instanceof Error) {
      expect(result).toBeInstanceOf(UsageError);
      expect(result.message).toMatch(/device 'cuda': onnxruntime-node could not start its CUDA execution provider .*vision_model.onnx/);
    } else {
      expect((result as { device: string }).device).toBe('cuda');
      (result as { dispose(): void }).dispose();
    }
  });

  it('refuses inputs of the wrong shape before running', async () => {
    const dir = tmp();
    writeRandomClipModel(dir, { seed: 10, onnx: true });
    const backend = await createOnnxBackend(openModelDir(dir), { threads: 1 });
    try {
      await expect(backend.encodeImages({ data: new Float32Array(3 * 16 * 16), n: 1, size: 16 })).rejects.toThrow(/pixels.size is 16, this model takes 32x32/);
      await expect(backend.encodeTexts(new Int32Array(77).fill(1000), 1)).rejects.toThrow(/ids\[0\]\[0\] = 1000 is outside the vocabulary \[0, 1000\)/);
      await expect(backend.encodeTexts(new Int32Array(76), 1)).rejects.toThrow(UsageError);
    } finally {
      backend.dispose();
    }
    await expect(backend.encodeTexts(new Int32Array(77), 1)).rejects.toThrow(/disposed/);
  });
});

describe('Immich/open_clip layout', () => {
  it('discovers image/text inputs (text int32) and matches the float64 reference', async () => {
    const hfDir = tmp();
    const { config } = writeRandomClipModel(hfDir, {
      seed: 11,
      vision: { imageSize: 32, patchSize: 8, hidden: 48, layers: 2, heads: 3, mlp: 192 },
      text: { vocabSize: 600, hidden: 32, layers: 2, heads: 2, mlp: 128, contextLength: 16 },
      projectionDim: 24,
    });
    const st = openWeights(openModelDir(hfDir));
    const weights = (name: string, shape: readonly number[]) => st.getTensor(name, shape);

    const dir = tmp();
    writeFileSync(
      path.join(dir, 'config.json'),
      JSON.stringify({
        embed_dim: 24,
        quick_gelu: true,
        vision_cfg: { image_size: 32, patch_size: 8, width: 48, layers: 2, head_width: 16, mlp_ratio: 4 },
        text_cfg: { context_length: 16, vocab_size: 600, width: 32, heads: 2, layers: 2, mlp_ratio: 4 },
      }),
    );
    writeClipOnnx(dir, config, weights, 'immich');
    const model = openModelDir(dir, { onnx: true });
    expect(model.files.layout).toBe('open_clip');
    expect(model.config.vision).toEqual(config.vision);
    expect({ ...model.config.text, pooling: 'first-eos', bosTokenId: 598, eosTokenId: 599 }).toEqual(config.text);

    const backend = await createOnnxBackend(model, { threads: 1 });
    try {
      const pixels = randomPixels(2, 32, 12);
      expectClose(await backend.encodeImages({ data: pixels, n: 2, size: 32 }), referenceEncodeImages(config, weights, pixels, 2).embeds, BOUNDS, 'image embedding');
      // open_clip pools at argmax(ids): the EOT is the largest id, so that is the first EOT.
      const ids = randomInputIds(3, { contextLength: 16, vocabSize: 600, seed: 13 });
      expectClose(await backend.encodeTexts(ids, 3), referenceEncodeTexts(config, weights, ids, 3).embeds, BOUNDS, 'text embedding');
    } finally {
      backend.dispose();
    }
  });
});
