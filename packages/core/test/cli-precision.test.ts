// --precision on the commands that load a model (the built CLI in child processes): defaults
// (encode and classify fp32, import and search auto), bad values and bf16 on onnx as usage
// errors, and a catalog holding rows of both precisions that search ranks together.
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { nativeInfo } from '@clipkit/native-cuda';
import { beforeAll, describe, expect, it } from 'vitest';
import { randomPixels, writeRandomClipModel } from '../src/testing/random-model.js';
import { readNpy, writeNpy } from '../src/util/npy.js';
import { makePhotoLibrary, type PhotoLibrary } from './helpers/photo-library.js';
import { scratchDir } from './helpers/tmp-dir.js';

const BIN = path.resolve(import.meta.dirname, '..', 'bin', 'clipkit.js');
const tmp = scratchDir('cli-precision');
const AUTO = nativeInfo().cpu.bf16 !== null ? 'bf16' : 'fp32';
const PHOTOS = 12;
let work: string;
let modelDir: string;
let lib: PhotoLibrary;

beforeAll(async () => {
  work = tmp();
  modelDir = writeRandomClipModel(path.join(work, 'model'), { seed: 7, initStd: 0.1, onnx: true }).dir;
  lib = await makePhotoLibrary(path.join(work, 'photos'), { photos: PHOTOS, seed: 4 });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[]): Promise<Run> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

function cosine(a: Float32Array, b: Float32Array): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! ** 2;
    bb += b[i]! ** 2;
  }
  return ab / Math.sqrt(aa * bb);
}

function rows(file: string): Float32Array[] {
  const { data, shape } = readNpy(file);
  const [n, d] = shape as [number, number];
  return Array.from({ length: n }, (_, i) => (data as Float32Array).subarray(i * d, (i + 1) * d));
}

describe('--precision', () => {
  it('is a usage error (exit 2, naming the choices) for any other value, on every command that loads a model', async () => {
    const db = path.join(work, 'bad.db');
    const px = path.join(work, 'px.npy');
    writeNpy(px, randomPixels(1, 32, 1), [1, 3, 32, 32]);
    const commands = [
      ['encode', '--model', modelDir, '--pixels', px, '--out', path.join(work, 'o.npy'), '--precision', 'fp16'],
      ['classify', lib.images[0]!, '--model', modelDir, '--labels', 'a,b', '--precision', 'half'],
      ['import', lib.root, '--db', db, '--model', modelDir, '--precision', 'bfloat16'],
      ['search', 'a dog', '--db', db, '--precision', 'int8'],
    ];
    for (const args of commands) {
      const r = await run(args);
      expect(r.code, args[0]).toBe(2);
      expect(r.stderr, args[0]).toMatch(/--precision.*Allowed choices are fp32, bf16, auto/);
      expect(r.stderr, args[0]).not.toMatch(/^\s+at /m);
    }
  });

  it('bf16 with --backend onnx is a usage error pointing to the native backend; auto with onnx runs fp32', async () => {
    const px = path.join(work, 'px2.npy');
    writeNpy(px, randomPixels(2, 32, 2), [2, 3, 32, 32]);
    const bad = await run(['encode', '--model', modelDir, '--backend', 'onnx', '--precision', 'bf16', '--pixels', px, '--out', path.join(work, 'x.npy')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^clipkit: precision bf16 runs on the native backend only: onnx computes in fp32; use backend native/);
    const badImport = await run(['import', lib.root, '--db', path.join(work, 'onnx.db'), '--model', modelDir, '--backend', 'onnx', '--precision', 'bf16']);
    expect(badImport.code).toBe(2);
    expect(badImport.stderr).toMatch(/native backend only/);

    const auto = await run(['encode', '--model', modelDir, '--backend', 'onnx', '--precision', 'auto', '--pixels', px, '--out', path.join(work, 'onnx.npy')]);
    expect(auto.stderr).toBe('');
    expect(auto.stdout).toMatch(/\(onnx\/cpu\)\n$/);
  });

  it('encode defaults to fp32 (identical to --precision fp32); bf16 stays within cosine 0.9995 of it', async () => {
    const px = path.join(work, 'px8.npy');
    writeNpy(px, randomPixels(8, 32, 8), [8, 3, 32, 32]);
    const out = (name: string) => path.join(work, `${name}.npy`);
    const base = ['encode', '--model', modelDir, '--backend', 'native', '--pixels', px];
    const byDefault = await run([...base, '--out', out('default')]);
    const fp32 = await run([...base, '--out', out('fp32'), '--precision', 'fp32']);
    const bf16 = await run([...base, '--out', out('bf16'), '--precision', 'bf16']);
    for (const r of [byDefault, fp32, bf16]) expect(r.code, r.stderr).toBe(0);
    expect(byDefault.stdout).toMatch(/\(native\/cpu\)\n$/);
    expect(bf16.stdout).toMatch(/\(native\/cpu bf16\)\n$/);
    expect(readNpy(out('default')).data).toEqual(readNpy(out('fp32')).data);
    const a = rows(out('fp32'));
    const b = rows(out('bf16'));
    expect(b.length).toBe(8);
    for (let i = 0; i < a.length; i++) expect(cosine(a[i]!, b[i]!)).toBeGreaterThanOrEqual(0.9995);
    // bf16 really ran: rounding shows up in the last digits.
    expect(Array.from(b.flatMap((r) => Array.from(r)))).not.toEqual(Array.from(a.flatMap((r) => Array.from(r))));
  });

  it('classify runs in bf16 on request, with probabilities close to its fp32 default', async () => {
    const args = ['classify', lib.images[0]!, lib.images[1]!, '--model', modelDir, '--labels', 'cat,dog,car', '--json'];
    const fp32 = await run(args);
    const bf16 = await run([...args, '--precision', 'bf16']);
    for (const r of [fp32, bf16]) expect(r.code, r.stderr).toBe(0);
    type Row = { image: string; scores: Array<{ label: string; probability: number }> };
    const prob = (rows: Row[]) => rows.map((r) => Object.fromEntries(r.scores.map((s) => [s.label, s.probability])));
    const [a, b] = [prob(JSON.parse(fp32.stdout) as Row[]), prob(JSON.parse(bf16.stdout) as Row[])];
    expect(b).toHaveLength(2);
    a.forEach((row, i) => {
      for (const label of ['cat', 'dog', 'car']) expect(Math.abs(row[label]! - b[i]![label]!), label).toBeLessThan(0.01);
    });
  });

  it(`import defaults to auto (${AUTO} here); one catalog holds rows of both precisions and search ranks them together`, async () => {
    // The library's first PHOTOS files are distinct pictures: half imported in each precision.
    const db = path.join(work, 'mixed.db');
    const first = path.join(work, 'first');
    const second = path.join(work, 'second');
    const half = PHOTOS / 2;
    for (const [dir, files] of [[first, lib.images.slice(0, half)], [second, lib.images.slice(half, PHOTOS)]] as const) {
      mkdirSync(dir);
      files.forEach((p, i) => cpSync(p, path.join(dir, `${i}${path.extname(p)}`)));
    }

    const byDefault = await run(['import', first, '--db', path.join(work, 'default.db'), '--model', modelDir, '--json']);
    expect(byDefault.code, byDefault.stderr).toBe(0);
    expect(JSON.parse(byDefault.stdout)).toMatchObject({ precision: AUTO, catalog: { precisions: { [AUTO]: half } } });

    const a = await run(['import', first, '--db', db, '--model', modelDir, '--precision', 'fp32']);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toMatch(/images\/s, fp32\n/);
    const b = await run(['import', second, '--db', db, '--model', modelDir, '--precision', 'bf16']);
    expect(b.code, b.stderr).toBe(0);
    expect(b.stdout).toMatch(/images\/s, bf16\n/);
    expect(b.stdout).toMatch(new RegExp(`catalog: ${PHOTOS} searchable files \\(${half} fp32, ${half} bf16\\),`));

    // Each image finds itself first, whichever precision encoded its row and the query.
    const queries = [first, second].map((dir) => path.join(dir, readdirSync(dir).sort()[0]!));
    for (const precision of ['fp32', 'bf16']) {
      for (const query of queries) {
        const r = await run(['search', '--image', query, '--k', String(PHOTOS), '--db', db, '--precision', precision, '--json']);
        expect(r.code, r.stderr).toBe(0);
        const hits = JSON.parse(r.stdout) as Array<{ path: string; score: number }>;
        expect(hits).toHaveLength(PHOTOS);
        expect(hits[0]!.path).toBe(query);
        expect(hits[0]!.score).toBeGreaterThanOrEqual(0.999);
        expect(new Set(hits.map((h) => path.dirname(h.path)))).toEqual(new Set([first, second]));
      }
    }
    const text = await run(['search', 'a red square', '--db', db, '--k', '3', '--json']);
    expect(text.code, text.stderr).toBe(0);
    expect(JSON.parse(text.stdout)).toHaveLength(3);
  });
});
