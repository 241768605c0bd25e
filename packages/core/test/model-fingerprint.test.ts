// The weights fingerprint that joins a model's catalog identity: sha256 of the weights, taken
// from the hub's record of a pulled file, else hashed once and cached by path, size and mtime.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ModelFormatError } from '../src/errors.js';
import { weightsFingerprint } from '../src/model/fingerprint.js';
import { discoverModelFiles } from '../src/model/model-dir.js';
import { writeRandomClipModel } from '../src/testing/random-model.js';
import { scratchDir } from './helpers/tmp-dir.js';

const tmp = scratchDir('fingerprint');
const sha256 = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

describe('weightsFingerprint', () => {
  let saved: string | undefined;
  let cache: string;
  beforeEach(() => {
    saved = process.env.CLIPKIT_CACHE;
    cache = tmp();
    process.env.CLIPKIT_CACHE = cache;
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.CLIPKIT_CACHE;
    else process.env.CLIPKIT_CACHE = saved;
  });

  it('is the sha256 of model.safetensors, cached by real path, size and mtime', async () => {
    const { dir } = writeRandomClipModel(path.join(tmp(), 'm'), { seed: 5 });
    const weights = path.join(dir, 'model.safetensors');
    expect(await weightsFingerprint(discoverModelFiles(dir))).toBe(sha256(weights));
    // The cache answers while size and mtime match (a planted value proves it is not rehashed) ...
    const cacheFile = path.join(cache, 'fingerprints.json');
    const entries = JSON.parse(fs.readFileSync(cacheFile, 'utf8')) as Record<string, { sha256: string }>;
    (entries[fs.realpathSync(weights)] as { sha256: string }).sha256 = 'f'.repeat(64);
    fs.writeFileSync(cacheFile, JSON.stringify(entries));
    expect(await weightsFingerprint(discoverModelFiles(dir))).toBe('f'.repeat(64));
    // ... and not once the file changed.
    const bytes = fs.readFileSync(weights);
    bytes[bytes.length - 1] ^= 1;
    fs.writeFileSync(weights, bytes);
    fs.utimesSync(weights, new Date(), new Date(Date.now() + 5000));
    expect(await weightsFingerprint(discoverModelFiles(dir))).toBe(sha256(weights));
  });

  it("takes the hub's sha256 of a pulled file, unless the file changed since", async () => {
    const { dir } = writeRandomClipModel(path.join(tmp(), 'm'), { seed: 6 });
    const weights = path.join(dir, 'model.safetensors');
    const st = fs.statSync(weights);
    const hub = 'a'.repeat(64);
    const manifest = { files: ['model.safetensors'], verified: { 'model.safetensors': { sha256: hub, size: st.size, mtimeMs: st.mtimeMs } } };
    fs.writeFileSync(path.join(dir, '.clipkit-complete.json'), JSON.stringify(manifest));
    expect(await weightsFingerprint(discoverModelFiles(dir))).toBe(hub);
    // A copied directory keeps the manifest but not the mtime: hashed, not trusted.
    const copy = path.join(tmp(), 'copy');
    fs.cpSync(dir, copy, { recursive: true });
    fs.utimesSync(path.join(copy, 'model.safetensors'), new Date(), new Date(Date.now() + 5000));
    expect(await weightsFingerprint(discoverModelFiles(copy))).toBe(sha256(weights));
  });

  it('refuses weights that are not a regular file instead of blocking on them', async () => {
    const { dir } = writeRandomClipModel(path.join(tmp(), 'm'), { seed: 7 });
    fs.rmSync(path.join(dir, 'model.safetensors'));
    fs.mkdirSync(path.join(dir, 'model.safetensors'));
    await expect(weightsFingerprint(discoverModelFiles(dir))).rejects.toThrow(ModelFormatError);
    await expect(weightsFingerprint(discoverModelFiles(dir))).rejects.toThrow(/not a regular file: a directory/);
  });
});
