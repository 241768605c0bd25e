// The native backend's device-memory path (what runs with device 'cuda'): buffers without views,
// host staging copies, buffer sets per exact batch size freed on eviction. Run on JS kernels
// standing in for the GPU, against the float64 reference forward pass.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createDeviceMemory } from '../src/backends/native/memory.js';
import { TextTower } from '../src/backends/native/text.js';
import { VisionTower } from '../src/backends/native/vit.js';
import { loadTextWeights, loadVisionWeights } from '../src/backends/native/weights.js';
import { SafetensorsFile } from '../src/model/safetensors.js';
import { randomInputIds, randomPixels, writeRandomClipModel } from '../src/testing/index.js';
import { referenceEncodeImages, referenceEncodeTexts } from '../src/testing/reference-forward.js';
import { expectClose } from './helpers/compare.js';
import { jsDeviceKernels } from './helpers/js-device-kernels.js';

const root = mkdtempSync(path.join(tmpdir(), 'clipkit-device-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('native backend on device memory (JS stand-in kernels)', () => {
  const { dir, config } = writeRandomClipModel(path.join(root, 'm'), {
    seed: 21,
    vision: { imageSize: 16, patchSize: 4, hidden: 24, layers: 2, heads: 2, mlp: 40 },
    text: { vocabSize: 600, hidden: 24, layers: 2, heads: 3, mlp: 40, contextLength: 12 },
    projectionDim: 8,
  });
  const file = SafetensorsFile.open(path.join(dir, 'model.safetensors'));
  const weights = (name: string, shape: readonly number[]) => file.getTensor(name, shape);
  const P = config.projectionDim;

  it('matches the reference for batches of several sizes, and frees evicted buffer sets', async () => {
    const js = jsDeviceKernels();
    const memory = createDeviceMemory(js.kernels, 'cuda');
    const vision = new VisionTower(js.kernels, memory, loadVisionWeights(file, config, memory), config.vision, P);
    const text = new TextTower(js.kernels, memory, loadTextWeights(file, config, memory), config.text, P);
    const afterWeights = js.live();

    const pixels = randomPixels(5, 16, 1);
    const ids = randomInputIds(5, { contextLength: 12, vocabSize: 600, seed: 2, lengths: [2, 12, 5, 7, 3] });
    const refImages = referenceEncodeImages(config, weights, pixels, 5).embeds;
    const refTexts = referenceEncodeTexts(config, weights, ids, 5).embeds;
    const per = 3 * 16 * 16;
    // Batch sizes 5, 2, 1 and 5 again: three distinct sizes, more than the two sets kept.
    for (const chunk of [5, 2, 1, 5]) {
      const images = new Float32Array(5 * P);
      const texts = new Float32Array(5 * P);
      for (let start = 0; start < 5; start += chunk) {
        const m = Math.min(chunk, 5 - start);
        await vision.encode(pixels.subarray(start * per, (start + m) * per), m, images, start * P);
        await text.encode(ids.subarray(start * 12, (start + m) * 12), m, texts, start * P);
      }
      expectClose(images, refImages, { rel: 1e-5, maxAbs: 1e-5 }, `images in chunks of ${chunk}`);
      expectClose(texts, refTexts, { rel: 1e-5, maxAbs: 1e-5 }, `texts in chunks of ${chunk}`);
    }
    // At most two buffer sets per tower survive; disposing the towers leaves only the weights.
    vision.dispose();
    text.dispose();
    expect(js.live()).toBe(afterWeights);
    memory.dispose();
    expect(js.live()).toBe(0);
  });
});
