// `clipkit encode` end to end (the built CLI in a child process) on a generated model: the .npy it
// writes holds what the onnx backend computes for the same inputs.
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { nativeAvailable } from '@clipkit/native-cuda';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { createOnnxBackend } from '../src/backends/onnx.js';
import { Clip } from '../src/clip.js';
import { openModelDir } from '../src/model/model-dir.js';
import { Prng } from '../src/testing/prng.js';
import { randomInputIds, randomPixels, writeRandomClipModel } from '../src/testing/random-model.js';
import { readNpy, writeNpy } from '../src/util/npy.js';
import { expectClose } from './helpers/compare.js';
import { scratchDir } from './helpers/tmp-dir.js';

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'clipkit.js');
const tmp = scratchDir('cli-encode');
const EXACT = { rel: 1e-6, maxAbs: 1e-6 };

/** A C-order int64 or int32 .npy (what NumPy's np.save writes for input ids). */
function writeIdsNpy(file: string, ids: Int32Array, shape: [number, number], descr: '<i8' | '<i4' = '<i8'): void {
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape[0]}, ${shape[1]}), }`;
  header = header.padEnd(64 - 10 - 1, ' ') + '\n';
  const prefix = Buffer.alloc(10);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]).copy(prefix);
  prefix.writeUInt16LE(header.length, 8);
  const data = descr === '<i8' ? BigInt64Array.from(ids, (v) => BigInt(v)) : ids;
  writeFileSync(file, Buffer.concat([prefix, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]));
}

function run(args: string[]) {
  const r = spawnSync(process.execPath, [cli, 'encode', ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('clipkit encode', () => {
  let dir: string;
  let work: string;
  const size = 32;
  const L = 16;

  beforeAll(() => {
    dir = tmp();
    work = tmp();
    writeRandomClipModel(dir, { seed: 5, onnx: true, text: { vocabSize: 700, hidden: 32, layers: 1, heads: 2, mlp: 64, contextLength: L } });
  });

  it('encodes float32 pixels and int64 / int32 ids like the onnx backend', async () => {
    const pixels = randomPixels(3, size, 1);
    const ids = randomInputIds(4, { contextLength: L, vocabSize: 700, seed: 2 });
    writeNpy(path.join(work, 'px.npy'), pixels, [3, 3, size, size]);
    writeIdsNpy(path.join(work, 'ids64.npy'), ids, [4, L]);
    writeIdsNpy(path.join(work, 'ids32.npy'), ids, [4, L], '<i4');
    const backend = await createOnnxBackend(openModelDir(dir), { threads: 1 });
    const wantImg = await backend.encodeImages({ data: pixels, n: 3, size });
    const wantTxt = await backend.encodeTexts(ids, 4);
    backend.dispose();

    const img = run(['--model', dir, '--backend', 'onnx', '--pixels', path.join(work, 'px.npy'), '--out', path.join(work, 'img.npy')]);
    expect(img.stderr).toBe('');
    expect(img.status).toBe(0);
    expect(img.stdout).toMatch(/float32 \[3, 32\] \(onnx\/cpu\)/);
    const gotImg = readNpy(path.join(work, 'img.npy'));
    expect(gotImg.shape).toEqual([3, 32]);
    expectClose(gotImg.data as Float32Array, wantImg, EXACT, 'encode --pixels');

    const txt = run(['--model', dir, '--backend', 'onnx', '--input-ids', path.join(work, 'ids64.npy'), '--out', path.join(work, 'txt.npy'), '--normalize']);
    expect(txt.status).toBe(0);
    const txt32 = run(['--model', dir, '--backend', 'onnx', '--input-ids', path.join(work, 'ids32.npy'), '--out', path.join(work, 'txt32.npy')]);
    expect(txt32.status).toBe(0);
    expectClose(readNpy(path.join(work, 'txt32.npy')).data as Float32Array, wantTxt, EXACT, 'encode --input-ids (int32)');
    const gotTxt = readNpy(path.join(work, 'txt.npy'));
    expect(gotTxt.shape).toEqual([4, 32]);
    const dataTxt = gotTxt.data as Float32Array;
    for (let r = 0; r < 4; r++) {
      const row = dataTxt.subarray(r * 32, (r + 1) * 32);
      const want = wantTxt.subarray(r * 32, (r + 1) * 32);
      const norm = Math.hypot(...want);
      expect(Math.hypot(...row)).toBeCloseTo(1, 5);
      expectClose(row, Array.from(want, (v) => v / norm), EXACT, `normalised row ${r}`);
    }
  });

  it('tokenizes --texts-jsonl with the model vocabulary', async () => {
    const file = path.join(work, 'texts.jsonl');
    writeFileSync(file, '"a photo of a cat"\n\n{"text": "dog"}\n');
    const r = run(['--model', dir, '--backend', 'onnx', '--texts-jsonl', file, '--out', path.join(work, 'texts.npy')]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const clip = await Clip.load(dir, { backend: 'onnx', threads: 1 });
    const want = await clip.encodeTexts(['a photo of a cat', 'dog']);
    clip.dispose();
    const got = readNpy(path.join(work, 'texts.npy'));
    expect(got.shape).toEqual([2, 32]);
    expectClose(got.data as Float32Array, want, EXACT, 'encode --texts-jsonl');
  });

  const addonMissing = !nativeAvailable();
  if (addonMissing) console.warn('[cli-encode] --images test skipped: the native addon (image preprocessing kernel) does not load here');
  it.skipIf(addonMissing)('encodes --images through the model preprocessing, like Clip.encodeImages', async () => {
    const files = [path.join(work, 'a.png'), path.join(work, 'b.png')];
    for (const [i, file] of files.entries()) {
      const w = 40 + 7 * i;
      const rng = new Prng(20 + i);
      const raw = Buffer.from(Array.from({ length: w * 50 * 3 }, () => rng.int(0, 256)));
      await sharp(raw, { raw: { width: w, height: 50, channels: 3 } }).png().toFile(file);
    }
    const r = run(['--model', dir, '--backend', 'onnx', '--images', ...files, '--out', path.join(work, 'images.npy')]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const clip = await Clip.load(dir, { backend: 'onnx', threads: 1 });
    const want = await clip.encodeImages(files);
    clip.dispose();
    const got = readNpy(path.join(work, 'images.npy'));
    expect(got.shape).toEqual([2, 32]);
    expectClose(got.data as Float32Array, want, EXACT, 'encode --images');
  });

  it.each([
    { name: 'no input', args: [], error: /exactly one of --pixels, --input-ids, --images, --texts-jsonl/ },
    { name: 'pixels of the wrong size', args: ['--pixels', 'px16.npy'], error: /--pixels .*px16.npy: expected float32 \[n, 3, 32, 32\], got float32 \[2, 3, 16, 16\]/ },
    { name: 'NaN pixels', args: ['--pixels', 'px-nan.npy'], error: /^clipkit: --pixels .*px-nan.npy: pixels\[1\]\[2\]\[3\]\[4\] is NaN: pixel values must be finite\n$/ },
    { name: 'infinite pixels', args: ['--pixels', 'px-inf.npy'], error: /--pixels .*px-inf.npy: pixels\[0\]\[0\]\[0\]\[5\] is -Infinity: pixel values must be finite/ },
    { name: 'ids of the wrong length', args: ['--input-ids', 'ids8.npy'], error: /--input-ids .*ids8.npy: expected int64 or int32 \[n, 16\], got int64 \[2, 8\]/ },
    { name: 'bad JSON line', args: ['--texts-jsonl', 'bad.jsonl'], error: /bad.jsonl:2: not valid JSON/ },
    { name: 'unknown backend', args: ['--pixels', 'px16.npy', '--backend', 'tpu'], error: /--backend must be native, onnx or auto, got "tpu"/ },
  ])('refuses $name with a usage error', ({ args, error }) => {
    writeNpy(path.join(work, 'px16.npy'), randomPixels(2, 16, 3), [2, 3, 16, 16]);
    const nan = randomPixels(2, size, 6);
    nan[1 * 3 * size * size + 2 * size * size + 3 * size + 4] = NaN;
    nan[1 * 3 * size * size + 2 * size * size + 3 * size + 5] = Infinity; // after the first: not named
    writeNpy(path.join(work, 'px-nan.npy'), nan, [2, 3, size, size]);
    const inf = randomPixels(1, size, 7);
    inf[5] = -Infinity;
    writeNpy(path.join(work, 'px-inf.npy'), inf, [1, 3, size, size]);
    writeIdsNpy(path.join(work, 'ids8.npy'), randomInputIds(2, { contextLength: 8, vocabSize: 700, seed: 4 }), [2, 8]);
    writeFileSync(path.join(work, 'bad.jsonl'), '"ok"\n{nope\n');
    const full = args.map((a) => (a.endsWith('.npy') || a.endsWith('.jsonl') ? path.join(work, a) : a));
    const r = run(['--model', dir, ...full, '--out', path.join(work, 'never.npy')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(error);
    expect(existsSync(path.join(work, 'never.npy'))).toBe(false);
  });
});
