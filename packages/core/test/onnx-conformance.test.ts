// The onnx backend against the shared PyTorch reference (../shared/reference/models/tiny).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOnnxBackend } from '../src/backends/onnx.js';
import { openModelDir } from '../src/model/model-dir.js';
import type { Backend } from '../src/types.js';
import { expectClose } from './helpers/compare.js';
import { loadTinyExpected, logitsPerImage, repadIds, skipWithoutTiny, tinyModelDir, type TinyExpected } from './helpers/tiny-reference.js';

const skip = skipWithoutTiny('onnx-conformance');
const BOUNDS = { rel: 1e-5, maxAbs: 1e-4 };
const EOT = 49407;

describe.skipIf(skip)('onnx backend vs the PyTorch reference (tiny model)', () => {
  let ref: TinyExpected;
  let backend: Backend;
  let logitScale: number;
  let dim: number;

  beforeAll(async () => {
    ref = loadTinyExpected();
    const model = openModelDir(tinyModelDir, { onnx: true });
    logitScale = model.info.logitScale;
    dim = model.info.projectionDim;
    backend = await createOnnxBackend(model, { threads: 1 });
  });
  afterAll(() => backend?.dispose());

  it('reproduces image_embeds', async () => {
    const out = await backend.encodeImages({ data: ref.pixelValues, n: ref.nImages, size: 32 });
    expectClose(out, ref.imageEmbeds, BOUNDS, 'image_embeds');
  });

  it('reproduces text_embeds with zero padding and with EOT padding', async () => {
    const zero = await backend.encodeTexts(ref.inputIds, ref.nTexts);
    expectClose(zero, ref.textEmbeds, BOUNDS, 'text_embeds (pad 0)');
    const eotPadded = repadIds(ref.inputIds, ref.nTexts, ref.contextLength, EOT, EOT);
    expect(eotPadded).not.toEqual(ref.inputIds);
    const eot = await backend.encodeTexts(eotPadded, ref.nTexts);
    expectClose(eot, ref.textEmbeds, BOUNDS, 'text_embeds (pad 49407)');
  });

  it('reproduces logits_per_image from exp(logit_scale) · cos', async () => {
    expect(logitScale).toBeCloseTo(Math.exp(ref.logitScale), 5);
    const img = await backend.encodeImages({ data: ref.pixelValues, n: ref.nImages, size: 32 });
    const txt = await backend.encodeTexts(ref.inputIds, ref.nTexts);
    const logits = logitsPerImage(img, txt, dim, logitScale);
    expectClose(logits, ref.logitsPerImage, BOUNDS, 'logits_per_image');
  });

  it('gives each row the same result at batch size 1 as in one batch', async () => {
    const model = openModelDir(tinyModelDir, { onnx: true });
    const single = await createOnnxBackend(model, { threads: 1, batchSize: 1 });
    try {
      const pixels = { data: ref.pixelValues, n: ref.nImages, size: 32 };
      expectClose(await single.encodeImages(pixels), await backend.encodeImages(pixels), { rel: 1e-6, maxAbs: 1e-6 }, 'images b1 vs bN');
      expectClose(
        await single.encodeTexts(ref.inputIds, ref.nTexts),
        await backend.encodeTexts(ref.inputIds, ref.nTexts),
        { rel: 1e-6, maxAbs: 1e-6 },
        'texts b1 vs bN',
      );
    } finally {
      single.dispose();
    }
  });
});
