// The loader: a missing or unloadable addon is a clear Error on first use, never an import-time
// crash, and the async functions report it as a rejection.
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';

async function freshLoader(addonPath: string) {
  vi.stubEnv('CLIPKIT_NATIVE_ADDON', addonPath);
  vi.resetModules();
  return import('../../lib/index.js');
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('loader', () => {
  it('a missing addon says how to build it', async () => {
    const missing = path.join(tmpdir(), 'clipkit-no-such-dir', 'clipkit_native.node');
    const native = await freshLoader(missing);
    expect(native.nativeAddonPath()).toBe(missing);
    expect(native.nativeAvailable()).toBe(false);
    expect(() => native.nativeInfo()).toThrow(/not built .*clipkit_native\.node is missing.*npm run build -w @clipkit\/native-cuda/);
    await expect(native.linearAsync(new Float32Array(1), new Float32Array(1), null, new Float32Array(1), { m: 1, n: 1, k: 1 }))
      .rejects.toThrow(/not built/);
  });

  it('a file that is not an addon is reported with the loader error', async () => {
    const bogus = path.join(tmpdir(), `clipkit-bogus-${process.pid}.node`);
    writeFileSync(bogus, 'not a shared object');
    try {
      const native = await freshLoader(bogus);
      expect(() => native.loadNative()).toThrow(/cannot load .*clipkit-bogus/);
    } finally {
      rmSync(bogus, { force: true });
    }
  });

  it('the default path is the package build', async () => {
    const native = await freshLoader('');
    expect(native.nativeAddonPath()).toMatch(/native-cuda[\\/]build[\\/]Release[\\/]clipkit_native\.node$/);
  });
});
