import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Clip } from '../src/clip.js';
import { HubError } from '../src/errors.js';
import { writeRandomClipModel } from '../src/testing/index.js';
import { cachedModelDir, hubSha256, parseRepoRef, pullModel, resolveModel } from '../src/model/hub.js';
import { startFakeHub, type FakeHub } from './helpers/hub-server.js';

const here = dirname(fileURLToPath(import.meta.url));
const cli = resolve(here, '../bin/clipkit.js');

let source: string;
const hubs: FakeHub[] = [];
afterEach(async () => {
  while (hubs.length) await hubs.pop()!.close();
});

beforeAll(() => {
  source = mkdtempSync(join(tmpdir(), 'clipkit-hub-src-'));
  writeFileSync(join(source, 'config.json'), JSON.stringify({ model_type: 'clip', projection_dim: 32 }));
  writeFileSync(join(source, 'preprocessor_config.json'), JSON.stringify({ crop_size: 32 }));
  writeFileSync(join(source, 'vocab.json'), JSON.stringify({ a: 0, '<|endoftext|>': 1 }));
  writeFileSync(join(source, 'merges.txt'), '#version: 0.2\n');
  writeFileSync(join(source, 'README.md'), 'not needed by clipkit');
  writeFileSync(join(source, 'model.safetensors'), randomBytes(3 << 20));
  mkdirSync(join(source, 'onnx'));
  writeFileSync(join(source, 'onnx', 'vision_model.onnx'), randomBytes(100_000));
  writeFileSync(join(source, 'onnx', 'text_model.onnx'), randomBytes(100_000));
});

function sameBytes(a: string, b: string): boolean {
  // toEqual on multi-MB Buffers compares element by element and takes seconds.
  return readFileSync(a).equals(readFileSync(b));
}

function freshCache(): string {
  return mkdtempSync(join(tmpdir(), 'clipkit-cache-'));
}

async function hub(...args: Parameters<typeof startFakeHub>): Promise<FakeHub> {
  const h = await startFakeHub(...args);
  hubs.push(h);
  return h;
}

const fast = { retries: 3, retryBaseMs: 10 };

describe('repo references', () => {
  it('maps aliases, revisions and rejects junk', () => {
    expect(parseRepoRef('ViT-B-32')).toEqual({ repo: 'openai/clip-vit-base-patch32', revision: 'main' });
    expect(parseRepoRef('ViT-L-14@v1')).toEqual({ repo: 'openai/clip-vit-large-patch14', revision: 'v1' });
    expect(parseRepoRef('Xenova/clip-vit-base-patch32@abc123')).toEqual({ repo: 'Xenova/clip-vit-base-patch32', revision: 'abc123' });
    expect(() => parseRepoRef('no-slash')).toThrow(/neither a model directory nor a hub repo id/);
    expect(() => parseRepoRef('a/../b')).toThrow();
  });
});

describe('pull from a loopback hub', () => {
  it('pulls the files a model directory needs, verified, then serves them from the cache', async () => {
    const h = await hub({ 'test/tiny': { dir: source } });
    const cacheDir = freshCache();
    const pulled = await pullModel('test/tiny', { endpoint: h.url, cacheDir, ...fast });
    expect(pulled.files).toEqual(['config.json', 'preprocessor_config.json', 'vocab.json', 'merges.txt', 'model.safetensors']);
    expect(pulled.downloaded).toEqual(pulled.files);
    for (const f of pulled.files) expect(sameBytes(join(pulled.dir, f), join(source, f))).toBe(true);
    expect(existsSync(join(pulled.dir, 'README.md'))).toBe(false);
    // LFS files went through the redirect, as on the real hub.
    expect(h.requests.some((r) => r.path.startsWith('/cdn/test/tiny/model.safetensors'))).toBe(true);

    const again = await pullModel('test/tiny', { endpoint: h.url, cacheDir, ...fast });
    expect(again.downloaded).toEqual([]);
    expect(await resolveModel('test/tiny', { endpoint: h.url, cacheDir })).toBe(pulled.dir);
    // The hub's sha256 of the weights, checked by the download, is what the catalog identity uses.
    const weights = readFileSync(join(source, 'model.safetensors'));
    expect(await hubSha256(pulled.dir, 'model.safetensors')).toBe(createHash('sha256').update(weights).digest('hex'));
    expect(await hubSha256(pulled.dir, 'config.json')).toBeUndefined(); // no LFS etag: hashed locally when needed
  });

  it('fetches ONNX encoders when asked or when there are no safetensors', async () => {
    const h = await hub({ 'test/tiny': { dir: source } });
    const pulled = await pullModel('test/tiny', { endpoint: h.url, cacheDir: freshCache(), withOnnx: true, ...fast });
    expect(pulled.files).toContain('onnx/vision_model.onnx');
    expect(sameBytes(join(pulled.dir, 'onnx/text_model.onnx'), join(source, 'onnx/text_model.onnx'))).toBe(true);
  });

  it('resumes with a Range request after the server cuts the connection mid-file', async () => {
    const h = await hub({ 'test/tiny': { dir: source } }, { cutOnce: new Set(['model.safetensors']) });
    const pulled = await pullModel('test/tiny', { endpoint: h.url, cacheDir: freshCache(), ...fast });
    expect(sameBytes(join(pulled.dir, 'model.safetensors'), join(source, 'model.safetensors'))).toBe(true);
    const ranged = h.requests.filter((r) => r.path.startsWith('/cdn/') && r.path.endsWith('model.safetensors') && r.range !== undefined);
    expect(ranged.length).toBe(1);
    expect(Number(ranged[0]!.range!.match(/bytes=(\d+)-/)![1])).toBeGreaterThan(0);
  });

  it('retries on 5xx', async () => {
    const h = await hub({ 'test/tiny': { dir: source } }, { unavailable: new Map([['config.json', 2]]), apiUnavailable: 2 });
    const pulled = await pullModel('test/tiny', { endpoint: h.url, cacheDir: freshCache(), ...fast });
    expect(JSON.parse(readFileSync(join(pulled.dir, 'config.json'), 'utf8')).projection_dim).toBe(32);
    expect(h.requests.filter((r) => r.path.startsWith('/api/')).length).toBe(3);
  });

  it('gives up on the file list after the retries asked for, with the status', async () => {
    const h = await hub({ 'test/tiny': { dir: source } }, { apiUnavailable: 3 });
    const err = pullModel('test/tiny', { endpoint: h.url, cacheDir: freshCache(), retries: 2, retryBaseMs: 1 });
    await expect(err).rejects.toMatchObject({ status: 503 });
    expect(h.requests.filter((r) => r.path.startsWith('/api/')).length).toBe(3);
  });

  it('rejects a corrupted file by sha256 and leaves nothing of it in the cache', async () => {
    const h = await hub({ 'test/tiny': { dir: source } }, { corrupt: new Set(['model.safetensors']) });
    const cacheDir = freshCache();
    const err = await pullModel('test/tiny', { endpoint: h.url, cacheDir, ...fast }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HubError);
    expect((err as HubError).message).toMatch(/model\.safetensors.*sha256 mismatch/);
    const dir = cachedModelDir({ repo: 'test/tiny', revision: 'main' }, { cacheDir });
    expect(readdirSync(dir).filter((f) => f.startsWith('model.safetensors'))).toEqual([]);
    expect(existsSync(join(dir, '.clipkit-complete.json'))).toBe(false);
    await expect(resolveModel('test/tiny', { cacheDir, offline: true })).rejects.toThrow(/offline and not in the cache/);
  });

  it('gives clear errors on 404 and 401, and uses HF_TOKEN-style tokens', async () => {
    const h = await hub({ 'test/private': { dir: source, token: 'sekret' } });
    const cacheDir = freshCache();
    await expect(pullModel('test/missing', { endpoint: h.url, cacheDir, ...fast })).rejects.toMatchObject({ status: 404, message: expect.stringMatching(/not found/) });
    await expect(pullModel('test/private', { endpoint: h.url, cacheDir, ...fast })).rejects.toMatchObject({ status: 401, message: expect.stringMatching(/HF_TOKEN/) });
    const pulled = await pullModel('test/private', { endpoint: h.url, cacheDir, token: 'sekret', ...fast });
    expect(pulled.files).toContain('model.safetensors');
  });

  it('works offline from the cache and fails clearly when a file is missing', async () => {
    const h = await hub({ 'test/tiny': { dir: source } });
    const cacheDir = freshCache();
    const pulled = await pullModel('test/tiny', { endpoint: h.url, cacheDir, ...fast });
    await h.close();
    hubs.length = 0;
    expect(await resolveModel('test/tiny', { cacheDir, offline: true })).toBe(pulled.dir);
    expect((await pullModel('test/tiny', { cacheDir, offline: true })).downloaded).toEqual([]);
    await expect(pullModel('test/other', { cacheDir, offline: true })).rejects.toThrow(/offline and not in the cache/);
    const { rmSync } = await import('node:fs');
    rmSync(join(pulled.dir, 'vocab.json'));
    await expect(pullModel('test/tiny', { cacheDir, offline: true })).rejects.toThrow(/missing: vocab\.json/);
  });

  it('`clipkit pull` uses CLIPKIT_HUB_URL and CLIPKIT_CACHE', async () => {
    const h = await hub({ 'test/tiny': { dir: source } });
    const cacheDir = freshCache();
    const env = { ...process.env, CLIPKIT_HUB_URL: h.url, CLIPKIT_CACHE: cacheDir };
    const run = (args: string[]) =>
      new Promise<{ status: number | null; stdout: string; stderr: string }>((res) => {
        // spawnSync would block the event loop that serves the fake hub.
        import('node:child_process').then(({ spawn }) => {
          const p = spawn(process.execPath, [cli, ...args], { env });
          let stdout = '';
          let stderr = '';
          p.stdout.on('data', (d) => (stdout += d));
          p.stderr.on('data', (d) => (stderr += d));
          p.on('close', (status) => res({ status, stdout, stderr }));
        });
      });
    const ok = await run(['pull', 'test/tiny', '--json']);
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    const out = JSON.parse(ok.stdout) as { dir: string; files: string[] };
    expect(out.dir.startsWith(cacheDir)).toBe(true);
    expect(existsSync(join(out.dir, 'model.safetensors'))).toBe(true);
    const missing = await run(['pull', 'test/nope']);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/test\/nope@main: not found on the hub/);
  });

  it('a pulled repo id loads as a model: Clip.load("owner/name") encodes like the directory it came from', async () => {
    const modelSrc = mkdtempSync(join(tmpdir(), 'clipkit-hub-model-'));
    writeRandomClipModel(modelSrc, { seed: 7 });
    const h = await hub({ 'test/generated': { dir: modelSrc } });
    const saved = { url: process.env.CLIPKIT_HUB_URL, cache: process.env.CLIPKIT_CACHE };
    process.env.CLIPKIT_HUB_URL = h.url;
    process.env.CLIPKIT_CACHE = freshCache();
    try {
      const fromHub = await Clip.load('test/generated', { backend: 'native' });
      const fromDir = await Clip.load(modelSrc, { backend: 'native' });
      const a = await fromHub.encodeTexts(['a photo of a cat'], { normalize: true });
      const b = await fromDir.encodeTexts(['a photo of a cat'], { normalize: true });
      fromHub.dispose();
      fromDir.dispose();
      expect(Array.from(a)).toEqual(Array.from(b));
      expect(existsSync(join(process.env.CLIPKIT_CACHE, 'models', 'test--generated', 'main', 'model.safetensors'))).toBe(true);
    } finally {
      for (const [k, v] of [['CLIPKIT_HUB_URL', saved.url], ['CLIPKIT_CACHE', saved.cache]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});
