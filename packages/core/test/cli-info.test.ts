// `clipkit info` reports this installation: core version, native addon (or why it is missing),
// and onnxruntime's execution providers.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'bin', 'clipkit.js');

describe('clipkit info', () => {
  it('--json describes core, the native addon (with its bf16 path) and onnxruntime', () => {
    const r = spawnSync(process.execPath, [cli, 'info', '--json'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info.core).toBe(JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).version);
    if ('error' in info.native) {
      expect(info.native.error).toMatch(/native addon not available: .+/);
    } else {
      expect(['avx512', 'avx2', 'generic']).toContain(info.native.cpu.isa);
      expect(info.native.cpu.threads).toBeGreaterThanOrEqual(1);
      expect(['amx', 'avx512_bf16', null]).toContain(info.native.cpu.bf16);
      expect(info.native.cpu.bf16Note === null || typeof info.native.cpu.bf16Note === 'string').toBe(true);
      expect(typeof info.native.cuda.compiled).toBe('boolean');
    }
    expect(info.onnxruntime.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(info.onnxruntime.executionProviders).toContainEqual({ name: 'cpu', bundled: true });
  });

  it('prints the same facts as text', () => {
    const r = spawnSync(process.execPath, [cli, 'info'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^@clipkit\/core \d+\.\d+\.\d+\n/);
    expect(r.stdout).toMatch(/^native addon: /m);
    if (!/^native addon: native addon not available/m.test(r.stdout)) {
      expect(r.stdout).toMatch(/^ {2}bf16: (amx \(auto runs bf16\)|avx512_bf16 \(auto runs bf16\)|no bf16 path \(auto runs fp32;)/m);
    }
    expect(r.stdout).toMatch(/^onnxruntime-node \d+\.\d+\.\d+: cpu/m);
  });
});
