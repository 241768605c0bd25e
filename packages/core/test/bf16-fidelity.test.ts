// bf16 against fp32 on the native backend (issue 16): for every row of 64 random images and 64
// random texts, cosine ≥ 0.9995, on the tiny model, a ViT-B/32-shaped one and (where present) the
// shared reference's tiny model, on every bf16 path this machine has. The default path runs in
// process; the lower ones (CLIPKIT_ISA is read once, when the addon loads) run `clipkit encode`
// in a child process with CLIPKIT_ISA set. A path the CPU lacks is skipped with the reason printed.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { nativeInfo } from '@clipkit/native-cuda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNativeBackend } from '../src/backends/native/index.js';
import { openModelDir, type ModelDir } from '../src/model/model-dir.js';
import { minRowCosine } from '../src/testing/cosine.js';
import { randomInputIds, randomPixels, TINY_TEXT, TINY_VISION, VIT_B32_TEXT, VIT_B32_VISION, writeRandomClipModel, type RandomClipModelOptions } from '../src/testing/random-model.js';
import type { Backend } from '../src/types.js';
import { readNpy, writeNpy } from '../src/util/npy.js';
import { scratchDir } from './helpers/tmp-dir.js';
import { skipWithoutTiny, tinyModelDir } from './helpers/tiny-reference.js';

const BIN = path.resolve(import.meta.dirname, '..', 'bin', 'clipkit.js');
const ROWS = 64;
const MIN_COSINE = 0.9995;
const tmp = scratchDir('bf16-fidelity');

type Bf16Path = 'amx' | 'avx512_bf16' | 'fallback';

/** The bf16 path `clipkit` takes under each CLIPKIT_ISA setting that may lower it. */
function pathsOnThisMachine(): Map<Bf16Path, Record<string, string>> {
  const paths = new Map<Bf16Path, Record<string, string>>();
  for (const env of [{}, { CLIPKIT_ISA: 'avx512_bf16' }, { CLIPKIT_ISA: 'avx512' }]) {
    const r = spawnSync(process.execPath, [BIN, 'info', '--json'], { encoding: 'utf8', env: { ...process.env, ...env } });
    if (r.status !== 0) throw new Error(`clipkit info failed: ${r.stderr}`);
    const bf16 = (JSON.parse(r.stdout) as { native: { cpu: { bf16: 'amx' | 'avx512_bf16' | null } } }).native.cpu.bf16;
    const key: Bf16Path = bf16 ?? 'fallback';
    if (!paths.has(key)) paths.set(key, env);
  }
  return paths;
}

const paths = pathsOnThisMachine();
const defaultPath: Bf16Path = nativeInfo().cpu.bf16 ?? 'fallback';
const ALL_PATHS: Bf16Path[] = ['amx', 'avx512_bf16', 'fallback'];
for (const p of ALL_PATHS) {
  if (!paths.has(p)) console.warn(`[bf16 fidelity] ${p} path skipped: this CPU does not offer it (${nativeInfo().cpu.bf16Note ?? `nativeInfo().cpu.bf16 is ${String(nativeInfo().cpu.bf16)}`})`);
}

interface Fixture {
  model: ModelDir;
  pixelsFile: string;
  idsFile: string;
  fp32: { images: Float32Array; texts: Float32Array };
}

type ModelSource = (work: string) => string;
const generated = (opts: Pick<RandomClipModelOptions, 'vision' | 'text' | 'projectionDim'>): ModelSource => (work) =>
  writeRandomClipModel(path.join(work, 'model'), { seed: 16, ...opts, hiddenAct: 'quick_gelu' }).dir;

const MODELS: Array<[string, ModelSource]> = [
  ['tiny', generated({ vision: TINY_VISION, text: TINY_TEXT, projectionDim: 32 })],
  // ViT-B/32 shapes; the vocabulary is cut to 1000 ids: the token table is a gather, which bf16
  // does not touch, and the full one would add 100 MB to write.
  ['ViT-B/32', generated({ vision: VIT_B32_VISION, text: { ...VIT_B32_TEXT, vocabSize: 1000 }, projectionDim: 512 })],
  // The PyTorch reference's own tiny model, where present (skipWithoutTiny prints why not).
  ...(skipWithoutTiny('bf16 fidelity on the shared tiny model') ? [] : [['shared tiny', () => tinyModelDir] as [string, ModelSource]]),
];

describe.each(MODELS)('bf16 vs fp32 on the %s model', (name, source) => {
  let fx: Fixture;
  let bf16: Backend;

  beforeAll(async () => {
    const work = tmp();
    const dir = source(work);
    const model = openModelDir(dir);
    const { imageSize } = model.config.vision;
    const { contextLength: L, vocabSize } = model.config.text;
    const pixels = randomPixels(ROWS, imageSize, 3);
    // Lengths from 2 tokens to the whole context, so every text row shape is covered.
    const ids = randomInputIds(ROWS, { contextLength: L, vocabSize, seed: 4, lengths: Array.from({ length: ROWS }, (_, i) => 2 + Math.round((i * (L - 2)) / (ROWS - 1))) });
    const pixelsFile = path.join(work, 'pixels.npy');
    const idsFile = path.join(work, 'ids.npy');
    writeNpy(pixelsFile, pixels, [ROWS, 3, imageSize, imageSize]);
    writeNpy(idsFile, ids, [ROWS, L]);
    const fp32 = await createNativeBackend(model, { precision: 'fp32' });
    try {
      fx = {
        model,
        pixelsFile,
        idsFile,
        fp32: { images: await fp32.encodeImages({ data: pixels, n: ROWS, size: imageSize }), texts: await fp32.encodeTexts(ids, ROWS) },
      };
    } finally {
      fp32.dispose();
    }
    bf16 = await createNativeBackend(model, { precision: 'bf16' });
  }, 600_000);
  afterAll(() => bf16?.dispose());

  for (const p of ALL_PATHS) {
    it.skipIf(!paths.has(p))(`${p} path: every image and text row has cosine ≥ ${MIN_COSINE} to fp32`, async () => {
      const dim = fx.model.config.projectionDim;
      const { images, texts } = p === defaultPath ? await inProcess(fx, bf16) : inChild(fx, paths.get(p)!, name);
      for (const [what, got, want] of [['images', images, fx.fp32.images], ['texts', texts, fx.fp32.texts]] as const) {
        expect(got.length).toBe(ROWS * dim);
        const min = minRowCosine(got, want, dim);
        expect(min.cosine, `${name} ${what}, ${p}: min cosine ${min.cosine} at row ${min.row}`).toBeGreaterThanOrEqual(MIN_COSINE);
        // Rounding to bf16 really happened: fp32 would match to the last bit.
        expect(Array.from(got), `${name} ${what}, ${p}: identical to fp32`).not.toEqual(Array.from(want));
      }
    }, 600_000);
  }
});

async function inProcess(fx: Fixture, bf16: Backend): Promise<{ images: Float32Array; texts: Float32Array }> {
  expect(bf16.precision).toBe('bf16');
  const { imageSize } = fx.model.config.vision;
  const pixels = readNpy(fx.pixelsFile).data as Float32Array;
  const ids = readNpy(fx.idsFile).data as Int32Array;
  return { images: await bf16.encodeImages({ data: pixels, n: ROWS, size: imageSize }), texts: await bf16.encodeTexts(ids, ROWS) };
}

function inChild(fx: Fixture, env: Record<string, string>, name: string): { images: Float32Array; texts: Float32Array } {
  const out = (what: string) => path.join(path.dirname(fx.pixelsFile), `${what}-${env.CLIPKIT_ISA ?? 'default'}.npy`);
  const encode = (input: string[], file: string) => {
    const args = [BIN, 'encode', '--model', fx.model.files.dir, '--backend', 'native', '--precision', 'bf16', ...input, '--out', file];
    const r = spawnSync(process.execPath, args, { encoding: 'utf8', env: { ...process.env, ...env } });
    expect(r.status, `${name}: clipkit encode with ${JSON.stringify(env)}: ${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/\(native\/cpu bf16\)/);
    return readNpy(file).data as Float32Array;
  };
  return { images: encode(['--pixels', fx.pixelsFile], out('images')), texts: encode(['--input-ids', fx.idsFile], out('texts')) };
}
