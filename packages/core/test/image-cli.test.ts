// `clipkit preprocess` end to end (the built CLI in a child process) on a folder of generated
// images mixing good and broken files.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultImageConfig, ImagePreprocessor } from '../src/image/preprocess.js';
import { readNpy } from '../src/util/npy.js';
import { scratchDir } from './helpers/tmp-dir.js';

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'clipkit.js');
const tmp = scratchDir('image-cli');
const S = 32;

function run(args: string[]) {
  const r = spawnSync(process.execPath, [cli, 'preprocess', ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('clipkit preprocess', () => {
  let dir: string;
  let images: string;
  let good: string[];

  beforeAll(async () => {
    dir = tmp();
    images = path.join(dir, 'photos');
    mkdirSync(path.join(images, 'nested'), { recursive: true });
    const pixels = (w: number, h: number, k: number) =>
      sharp(Buffer.from(Array.from({ length: w * h * 3 }, (_, i) => (i * k) % 251)), { raw: { width: w, height: h, channels: 3 } });
    good = [path.join(images, 'a.png'), path.join(images, 'c.jpg'), path.join(images, 'nested', 'd.webp')];
    await pixels(70, 50, 3).png().toFile(good[0] as string);
    await pixels(40, 90, 5).jpeg().toFile(good[1] as string);
    await pixels(64, 64, 7).webp().toFile(good[2] as string);
    const jpeg = await pixels(80, 60, 11).jpeg().toBuffer();
    writeFileSync(path.join(images, 'b-truncated.jpg'), jpeg.subarray(0, jpeg.length >> 1));
  });

  it('fails naming the broken image and writes nothing without --skip-errors', () => {
    const out = path.join(dir, 'strict.npy');
    const r = run([images, '--out', out, '--size', String(S)]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('b-truncated.jpg');
    expect(r.stderr).toMatch(/cannot decode/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // one clear line, no stack trace
    expect(existsSync(out)).toBe(false);
  });

  it('with --skip-errors reports the broken image and writes the good ones, in order', async () => {
    const out = path.join(dir, 'skip.npy');
    const r = run([images, '--out', out, '--size', String(S), '--skip-errors']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/skipped .*b-truncated\.jpg/);
    expect(r.stdout).toContain(`[3, 3, ${S}, ${S}]`);
    const npy = readNpy(out);
    expect(npy.dtype).toBe('float32');
    expect(npy.shape).toEqual([3, 3, S, S]);
    const expected = await new ImagePreprocessor(defaultImageConfig(S)).preprocessOrThrow(good);
    expect(Array.from(npy.data as Float32Array)).toEqual(Array.from(expected.data));
  });

  it('passes the pipeline options through (--crop floor --mode fast --orientation ignore --alpha white)', async () => {
    const out = path.join(dir, 'opts.npy');
    const r = run([good[0] as string, '--out', out, '--size', String(S), '--crop', 'floor', '--alpha', 'white', '--orientation', 'ignore', '--mode', 'fast']);
    expect(r.status, r.stderr).toBe(0);
    const expected = await new ImagePreprocessor(defaultImageConfig(S), { crop: 'floor', alpha: 'white', orientation: 'ignore', mode: 'fast' }).preprocessOrThrow([good[0] as string]);
    expect(Array.from(readNpy(out).data as Float32Array)).toEqual(Array.from(expected.data));
  });

  it('rejects bad option values with a usage error (exit 2)', () => {
    const r = run([good[0] as string, '--out', path.join(dir, 'x.npy'), '--mode', 'quick']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/mode must be one of exact, fast/);
    const s = run([good[0] as string, '--out', path.join(dir, 'x.npy'), '--size', 'abc']);
    expect(s.status).toBe(2);
    expect(s.stderr).toMatch(/--size must be an integer from 1 to 8192/);
  });
});
