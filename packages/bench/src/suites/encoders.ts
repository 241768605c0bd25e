// Encoder throughput, native vs onnx backend, on one seeded random-weight model with ViT-B/32
// shapes (tiny mode: the tiny test shapes), measured in the same run at batch 1, 8 and 32.
// Texts are timed twice: prompt-length rows (12 tokens, what zero-shot labels and searches
// look like) and full 77-token rows; the native text tower stops at each batch's last EOT,
// onnx always runs the whole context.
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createBackend, openModelDir, type Backend } from '@clipkit/core';
import { randomInputIds, randomPixels, TINY_TEXT, TINY_VISION, VIT_B32_TEXT, VIT_B32_VISION, writeRandomClipModel } from '@clipkit/core/testing';
import { median } from '../harness.js';
import type { BenchOptions, BenchRow } from '../types.js';

const BATCHES = [1, 8, 32];
const PROMPT_TOKENS = 12;
const cacheRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '.cache');

/** The generated model directory, written once and reused by later runs. */
export function cachedModel(tiny: boolean): string {
  const name = tiny ? 'random-tiny-v1' : 'random-vit-b32-v1';
  const dir = path.join(cacheRoot, name);
  const done = path.join(dir, '.complete');
  if (existsSync(done)) return dir;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  process.stderr.write(`bench: generating ${name} in ${dir}…\n`);
  writeRandomClipModel(dir, {
    seed: 32,
    vision: tiny ? TINY_VISION : VIT_B32_VISION,
    text: tiny ? TINY_TEXT : VIT_B32_TEXT,
    projectionDim: tiny ? 32 : 512,
    hiddenAct: 'quick_gelu',
    dtype: 'F32',
    onnx: true,
  });
  writeFileSync(done, '');
  return dir;
}

/**
 * Median seconds per call of each fn in its steady state, timed in turns (a, b, a, b, …) so load
 * from other processes on this shared machine hits every contender alike. Each turn first makes
 * one untimed call: the other contender's last call has just pushed this one's weights out of
 * the caches (the two models are 350 MB each), which made the first call after a switch up to
 * 1.5× slower at batch 1 — a cost neither backend has when it runs alone, as it does in use.
 */
async function interleaved(fns: ReadonlyArray<() => Promise<unknown>>, repeats: number): Promise<number[]> {
  const times = fns.map(() => [] as number[]);
  for (let r = 0; r < repeats; r++) {
    for (const [i, fn] of fns.entries()) {
      await fn();
      const t = performance.now();
      await fn();
      times[i]!.push((performance.now() - t) / 1e3);
    }
  }
  return times.map(median);
}

export async function benchEncoders(opts: BenchOptions): Promise<BenchRow[]> {
  const model = openModelDir(cachedModel(opts.tiny ?? false), { weights: true, onnx: true });
  const { imageSize } = model.config.vision;
  const { contextLength: L, vocabSize } = model.config.text;
  const shape = opts.tiny ? 'tiny' : 'ViT-B/32';
  const backends: Backend[] = [await createBackend(model, { backend: 'native' }), await createBackend(model, { backend: 'onnx' })];
  const rows: BenchRow[] = [];
  try {
    for (const batch of BATCHES) {
      const pixels = { data: randomPixels(batch, imageSize, batch), n: batch, size: imageSize };
      const prompts = randomInputIds(batch, { contextLength: L, vocabSize, seed: batch, lengths: new Array<number>(batch).fill(PROMPT_TOKENS) });
      const full = randomInputIds(batch, { contextLength: L, vocabSize, seed: batch + 1, lengths: new Array<number>(batch).fill(L) });
      // Large batches take ~1 s each on ViT-B/32: fewer repeats keep the suite near a minute
      // and a half.
      const repeats = opts.quick || batch >= 32 ? 3 : 7;
      const cases: Array<[string, (b: Backend) => Promise<unknown>, string]> = [
        ['images', (b) => b.encodeImages(pixels), 'images/s'],
        [`texts (${PROMPT_TOKENS} tokens)`, (b) => b.encodeTexts(prompts, batch), 'texts/s'],
        [`texts (${L} tokens)`, (b) => b.encodeTexts(full, batch), 'texts/s'],
      ];
      for (const [what, run, unit] of cases) {
        const name = (b: Backend) => `${shape} ${what}, batch ${batch}, ${b.name}`;
        const seconds = await interleaved(backends.map((b) => () => run(b)), repeats);
        backends.forEach((b, i) => {
          rows.push({ name: name(b), unit, value: batch / seconds[i]!, ...(b.name === 'native' ? { baseline: name(backends[1]!), headline: true } : {}) });
        });
      }
    }
  } finally {
    for (const b of backends) b.dispose();
  }
  return rows;
}
