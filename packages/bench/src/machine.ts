// What the figures were measured on, recorded beside them.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { nativeInfo, type NativeInfo } from '@clipkit/native-cuda';

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryBytes: number;
  /** The ISA the addon's kernels dispatch to; 'unknown' when the addon does not load. */
  isa: string;
  /** The addon's compute threads (0 when it does not load). */
  threads: number;
  cuda: NativeInfo['cuda'] | null;
  /** Why the native addon did not load (null when it did): its suites are skipped. */
  addonError: string | null;
  node: string;
  versions: Record<string, string>;
  gitCommit: string | null;
  date: string;
  /** 1-minute load average when the run started: other processes share these cores. */
  loadAverage: number;
}

/** A dependency's version, from the package.json above its entry point (not every package exports it). */
function packageVersion(name: string): string {
  try {
    let dir = path.dirname(fileURLToPath(import.meta.resolve(name)));
    for (;;) {
      const file = path.join(dir, 'package.json');
      if (existsSync(file)) {
        const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
        if (pkg.name === name && pkg.version !== undefined) return pkg.version;
      }
      if (path.dirname(dir) === dir) return 'unknown';
      dir = path.dirname(dir);
    }
  } catch {
    return 'unknown';
  }
}

/** nativeInfo(), or why the addon cannot be loaded (it is loaded lazily, on the first call). */
export function addonStatus(): { info: NativeInfo; error: null } | { info: null; error: string } {
  try {
    return { info: nativeInfo(), error: null };
  } catch (err) {
    return { info: null, error: err instanceof Error ? err.message : String(err) };
  }
}

export function machineInfo(): MachineInfo {
  const { info, error } = addonStatus();
  let gitCommit: string | null = null;
  try {
    gitCommit = execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    gitCommit = null;
  }
  return {
    cpuModel: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryBytes: totalmem(),
    isa: info?.cpu.isa ?? 'unknown',
    threads: info?.cpu.threads ?? 0,
    cuda: info?.cuda ?? null,
    addonError: error,
    node: process.version,
    versions: {
      clipkitNative: info?.version ?? 'not loaded',
      'onnxruntime-node': packageVersion('onnxruntime-node'),
      sharp: packageVersion('sharp'),
      '@huggingface/transformers': packageVersion('@huggingface/transformers'),
      libvips: sharp.versions.vips,
    },
    gitCommit,
    date: new Date().toISOString(),
    loadAverage: loadavg()[0] ?? 0,
  };
}
