// Encoder throughput of native fp32, native bf16 and onnx on one seeded random-weight model
// with ViT-B/32 shapes (tiny mode: the tiny test shapes), measured in the same run at batch 1,
// 8 and 32. Texts are timed twice: prompt-length rows (12 tokens, what zero-shot labels and
// searches look like) and full 77-token rows; the native text tower stops at each batch's last
// EOT, onnx always runs the whole context. Also: bf16's fidelity (min cosine to fp32 over 64
// images and 64 texts), and one-shot `clipkit encode --pixels` runs (96 images timed against
// 32, so start-up cancels) against the in-process figure of the same precision.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createBackend, openModelDir, writeNpy, type Backend, type ModelDir, type Precision } from '@clipkit/core';
import { minRowCosine, randomInputIds, randomPixels, TINY_TEXT, TINY_VISION, VIT_B32_TEXT, VIT_B32_VISION, writeRandomClipModel } from '@clipkit/core/testing';
import { nativeInfo } from '@clipkit/native-cuda';
import { median } from '../harness.js';
import type { BenchOptions, BenchRow, SuiteOutput } from '../types.js';

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

/** A contender: a backend and how its rows are named ('native' stays fp32's name across runs). */
interface Contender {
  label: string;
  backend: Backend;
}

export async function benchEncoders(opts: BenchOptions): Promise<SuiteOutput> {
  const model = openModelDir(cachedModel(opts.tiny ?? false), { weights: true, onnx: true });
  const { imageSize } = model.config.vision;
  const { contextLength: L, vocabSize } = model.config.text;
  const shape = opts.tiny ? 'tiny' : 'ViT-B/32';
  const contenders: Contender[] = [
    { label: 'native', backend: await createBackend(model, { backend: 'native', precision: 'fp32' }) },
    { label: 'native bf16', backend: await createBackend(model, { backend: 'native', precision: 'bf16' }) },
    { label: 'onnx', backend: await createBackend(model, { backend: 'onnx' }) },
  ];
  const bf16Path = nativeInfo().cpu.bf16;
  const notes = [
    `native bf16 runs on ${bf16Path ?? 'no bf16 path: the fp32 kernels on bf16-rounded weights'}${nativeInfo().cpu.bf16Note ? ` (${nativeInfo().cpu.bf16Note})` : ''}; its ratio is against native fp32, its note against onnx`,
  ];
  const rows: BenchRow[] = [];
  try {
    for (const batch of BATCHES) {
      const pixels = { data: randomPixels(batch, imageSize, batch), n: batch, size: imageSize };
      const prompts = randomInputIds(batch, { contextLength: L, vocabSize, seed: batch, lengths: new Array<number>(batch).fill(PROMPT_TOKENS) });
      const full = randomInputIds(batch, { contextLength: L, vocabSize, seed: batch + 1, lengths: new Array<number>(batch).fill(L) });
      // Large batches take ~1 s each on ViT-B/32: fewer repeats keep the suite near two minutes.
      const repeats = opts.quick || batch >= 32 ? 3 : 7;
      const cases: Array<[string, (b: Backend) => Promise<unknown>, string]> = [
        ['images', (b) => b.encodeImages(pixels), 'images/s'],
        [`texts (${PROMPT_TOKENS} tokens)`, (b) => b.encodeTexts(prompts, batch), 'texts/s'],
        [`texts (${L} tokens)`, (b) => b.encodeTexts(full, batch), 'texts/s'],
      ];
      for (const [what, run, unit] of cases) {
        const name = (label: string) => `${shape} ${what}, batch ${batch}, ${label}`;
        const seconds = await interleaved(contenders.map((c) => () => run(c.backend)), repeats);
        const value = (label: string) => batch / seconds[contenders.findIndex((c) => c.label === label)]!;
        rows.push(
          { name: name('native'), unit, value: value('native'), baseline: name('onnx'), headline: true },
          { name: name('native bf16'), unit, value: value('native bf16'), baseline: name('native'), note: `${(value('native bf16') / value('onnx')).toFixed(2)}× onnx` },
          { name: name('onnx'), unit, value: value('onnx') },
        );
      }
    }
    rows.push(await fidelity(model, contenders[0]!.backend, contenders[1]!.backend, shape));
    for (const c of contenders.slice(0, 2)) {
      rows.push(...(await oneShot(model, c.backend, c.backend.precision, `${shape} images, batch ${ONE_SHOT.small}, ${c.label}`, opts)));
    }
  } finally {
    for (const c of contenders) c.backend.dispose();
  }
  return { rows, notes };
}

/** The smallest cosine between bf16 and fp32 embeddings of 64 random images and 64 texts of every length. */
async function fidelity(model: ModelDir, fp32: Backend, bf16: Backend, shape: string): Promise<BenchRow> {
  const n = 64;
  const { imageSize } = model.config.vision;
  const { contextLength: L, vocabSize } = model.config.text;
  const dim = model.config.projectionDim;
  const pixels = { data: randomPixels(n, imageSize, 64), n, size: imageSize };
  const ids = randomInputIds(n, { contextLength: L, vocabSize, seed: 64 });
  const images = minRowCosine(await bf16.encodeImages(pixels), await fp32.encodeImages(pixels), dim).cosine;
  const texts = minRowCosine(await bf16.encodeTexts(ids, n), await fp32.encodeTexts(ids, n), dim).cosine;
  return {
    name: `${shape} bf16 fidelity: min cosine to fp32, ${n} images and ${n} texts`,
    unit: 'cosine',
    value: Math.min(images, texts),
    note: `images ${images.toFixed(6)}, texts ${texts.toFixed(6)}`,
  };
}

const ONE_SHOT = { small: 32, large: 96 };
const cli = path.join(path.dirname(fileURLToPath(import.meta.resolve('@clipkit/core'))), '..', 'bin', 'clipkit.js');

/**
 * What a user of `clipkit encode --pixels` gets: a fresh process per run, so model load, weight
 * packing and first-touch of every buffer are paid each time. The large run is timed against the
 * small one (medians), so start-up cancels and images/s is what the extra images cost. Its
 * baseline is the in-process figure timed in turns with those runs (load on this shared machine
 * changes by the minute; a figure from earlier in the suite would not compare).
 */
async function oneShot(model: ModelDir, backend: Backend, precision: Precision, label: string, opts: BenchOptions): Promise<BenchRow[]> {
  const { imageSize } = model.config.vision;
  const file = (n: number) => {
    const f = path.join(cacheRoot, `one-shot-${imageSize}-${n}.npy`);
    if (!existsSync(f)) writeNpy(f, randomPixels(n, imageSize, n), [n, 3, imageSize, imageSize]);
    return f;
  };
  const cliSeconds = (n: number): number => {
    const out = path.join(cacheRoot, `one-shot-out-${process.pid}.npy`);
    const t = performance.now();
    const r = spawnSync(process.execPath, [cli, 'encode', '--model', model.files.dir, '--backend', 'native', '--precision', precision, '--pixels', file(n), '--out', out], {
      encoding: 'utf8',
    });
    const seconds = (performance.now() - t) / 1e3;
    rmSync(out, { force: true });
    if (r.status !== 0) throw new Error(`clipkit encode --precision ${precision} failed: ${r.stderr.trim()}`);
    return seconds;
  };
  const pixels = { data: randomPixels(ONE_SHOT.small, imageSize, ONE_SHOT.small), n: ONE_SHOT.small, size: imageSize };
  const small: number[] = [];
  const large: number[] = [];
  const inProcess: number[] = [];
  for (let i = 0; i < (opts.quick ? 2 : 3); i++) {
    small.push(cliSeconds(ONE_SHOT.small));
    large.push(cliSeconds(ONE_SHOT.large));
    await backend.encodeImages(pixels); // the child evicted this process's weights from the caches
    const t = performance.now();
    await backend.encodeImages(pixels);
    inProcess.push((performance.now() - t) / 1e3);
  }
  const between = `${label}, in-process between one-shot runs`;
  return [
    { name: between, unit: 'images/s', value: ONE_SHOT.small / median(inProcess) },
    {
      name: `${label}: one-shot clipkit encode --pixels (${ONE_SHOT.large} vs ${ONE_SHOT.small} images)`,
      unit: 'images/s',
      value: (ONE_SHOT.large - ONE_SHOT.small) / Math.max(median(large) - median(small), 1e-3),
      baseline: between,
    },
  ];
}
