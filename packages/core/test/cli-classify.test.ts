// `clipkit classify` end to end (the built CLI in a child process) on a generated model and
// generated images: the JSON it prints is what Clip.classify computes in-process.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { Clip } from '../src/clip.js';
import { writeRandomClipModel } from '../src/testing/random-model.js';
import type { LabelScore } from '../src/types.js';
import { scratchDir } from './helpers/tmp-dir.js';

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'clipkit.js');
const tmp = scratchDir('cli-classify');

function run(args: string[]) {
  const r = spawnSync(process.execPath, [cli, 'classify', ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A w×h RGB PNG of a smooth gradient seeded by `seed`. */
async function gradientPng(file: string, w: number, h: number, seed: number): Promise<void> {
  const raw = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      raw[i] = (x * 7 + seed * 40) & 255;
      raw[i + 1] = (y * 5 + seed * 90) & 255;
      raw[i + 2] = (x * y + seed * 13) & 255;
    }
  }
  await sharp(raw, { raw: { width: w, height: h, channels: 3 } }).png().toFile(file);
}

describe('clipkit classify', () => {
  let dir: string;
  let images: string[];
  const labels = ['cat', 'dog', 'red car'];

  beforeAll(async () => {
    dir = writeRandomClipModel(tmp(), { seed: 8, onnx: true }).dir;
    const work = tmp();
    images = [path.join(work, 'a.png'), path.join(work, 'b.png')];
    await gradientPng(images[0]!, 64, 48, 1);
    await gradientPng(images[1]!, 40, 90, 2);
  });

  it('prints per-image label probabilities as JSON, equal to Clip.classify', async () => {
    const r = run([...images, '--model', dir, '--labels', labels.join(','), '--backend', 'onnx', '--json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const rows = JSON.parse(r.stdout) as Array<{ image: string; scores: LabelScore[] }>;
    expect(rows.map((row) => row.image)).toEqual(images);
    const clip = await Clip.load(dir, { backend: 'onnx' });
    const expected = await clip.classify(images, labels);
    clip.dispose();
    rows.forEach((row, i) => {
      expect(row.scores.map((s) => s.label)).toEqual(expected[i]!.map((s) => s.label));
      row.scores.forEach((s, k) => expect(s.probability).toBeCloseTo(expected[i]![k]!.probability, 6));
      expect(row.scores.reduce((a, s) => a + s.probability, 0)).toBeCloseTo(1, 6);
    });
  });

  it('prints one readable line per image, limited by --top', () => {
    const r = run([images[0]!, '--model', dir, '--labels', labels.join(','), '--backend', 'onnx', '--top', '2', '--templates', 'imagenet80']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^${images[0]!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: [a-z ]+ \\d+\\.\\d%, [a-z ]+ \\d+\\.\\d%\\n$`));
  });

  it('reads custom templates from a file, one per non-empty line', async () => {
    const file = path.join(tmp(), 'templates.txt');
    writeFileSync(file, 'a {}\n\nart of {}\n');
    const r = run([images[0]!, '--model', dir, '--labels', 'x,y', '--backend', 'onnx', '--templates', file, '--json']);
    expect(r.stderr).toBe('');
    const [row] = JSON.parse(r.stdout) as Array<{ scores: LabelScore[] }>;
    const clip = await Clip.load(dir, { backend: 'onnx' });
    const [expected] = await clip.classify([images[0]!], ['x', 'y'], { templates: ['a {}', 'art of {}'] });
    clip.dispose();
    expect(row!.scores.map((s) => s.label)).toEqual(expected!.map((s) => s.label));
    row!.scores.forEach((s, k) => expect(s.logit).toBeCloseTo(expected![k]!.logit, 4));
  });

  it('fails with one clear line for a broken image, bad templates or labels', () => {
    const broken = path.join(tmp(), 'broken.jpg');
    writeFileSync(broken, Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]));
    const bad = run([broken, '--model', dir, '--labels', 'a,b', '--backend', 'onnx']);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('broken.jpg');
    expect(bad.stderr).not.toMatch(/\n\s+at /); // no stack trace

    const templates = run([images[0]!, '--model', dir, '--labels', 'a,b', '--templates', 'nope']);
    expect(templates.status).toBe(2);
    expect(templates.stderr).toMatch(/--templates: "nope" is neither simple, imagenet80 nor a template file/);

    const labelsBad = run([images[0]!, '--model', dir, '--labels', 'a,,b']);
    expect(labelsBad.status).not.toBe(0);
    expect(labelsBad.stderr).toMatch(/labels must be non-empty/);
  });
});
