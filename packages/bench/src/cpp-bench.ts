// The addon's C++ microbenchmark program (packages/native-cuda/bench → clipkit_bench): kernels
// timed without the Node binding. Built CPU-only into native-cuda/build-bench (incremental after
// the first build), run with --json, and its figures turned into rows. It also measures this
// machine's FMA peak and memory bandwidth, which the JS API rows are expressed against.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchOptions, BenchRow } from './types.js';

export interface CppBench {
  rows: BenchRow[];
  peakGflops?: number;
  /** memcpy-like: bytes read + written per second. */
  copyGBs?: number;
  /** Streaming read of one array. */
  readGBs?: number;
  /** Why the program did not run here (no cmake, no bench sources); absent when it ran. */
  unavailable?: string;
}

const nativeRoot = path.resolve(path.dirname(fileURLToPath(import.meta.resolve('@clipkit/native-cuda'))), '..');
const buildDir = path.join(nativeRoot, 'build-bench');
const CONFIGURE = ['-DCMAKE_BUILD_TYPE=Release', '-DCLIPKIT_CUDA=OFF', '-DCLIPKIT_TESTS=OFF', '-DCLIPKIT_BENCH=ON', '-DCLIPKIT_NODE_ADDON=OFF'];

interface Run {
  code: number | null;
  output: string;
  missing: boolean; // the executable itself was not found
}

function run(file: string, args: string[], timeoutMs: number): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: nativeRoot, timeout: timeoutMs, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const output = `${stdout}${stderr}`;
      if (err === null) return resolve({ code: 0, output, missing: false });
      const e = err as NodeJS.ErrnoException & { code?: unknown };
      resolve({ code: typeof e.code === 'number' ? e.code : null, output: output || err.message, missing: e.code === 'ENOENT' });
    });
  });
}

function tail(text: string, lines = 30): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** Configure (first time) and build clipkit_bench; the path of the executable. */
async function build(): Promise<string | { unavailable: string }> {
  const benchDir = path.join(nativeRoot, 'bench');
  if (!existsSync(benchDir) || !readdirSync(benchDir).some((f) => f.endsWith('.cc'))) {
    return { unavailable: `no C++ benchmark sources in ${benchDir}` };
  }
  // Configure every time (under a second once cached): the clipkit_bench target only exists
  // if bench/*.cc did when CMake last ran.
  const configured = await run('cmake', ['-S', nativeRoot, '-B', buildDir, ...CONFIGURE], 300_000);
  if (configured.missing) return { unavailable: 'cmake is not installed (needed to build the C++ benchmark program)' };
  if (configured.code !== 0) throw new Error(`cmake configure of ${buildDir} failed:\n${tail(configured.output)}`);
  process.stderr.write('bench: building clipkit_bench (-j2)…\n');
  const built = await run('cmake', ['--build', buildDir, '--target', 'clipkit_bench', '--parallel', '2'], 900_000);
  if (built.missing) return { unavailable: 'cmake is not installed (needed to build the C++ benchmark program)' };
  if (built.code !== 0) throw new Error(`building clipkit_bench failed:\n${tail(built.output)}`);
  return path.join(buildDir, 'clipkit_bench');
}

export async function runCppBench(opts: BenchOptions): Promise<CppBench> {
  const exe = await build();
  if (typeof exe !== 'string') return { rows: [], unavailable: exe.unavailable };
  const dir = mkdtempSync(path.join(tmpdir(), 'clipkit-cpp-bench-'));
  try {
    const json = path.join(dir, 'out.json');
    // --preprocess: image preprocessing cases too, where the program has them.
    const args = [...(opts.quick ? ['--quick'] : []), ...(opts.tiny ? ['--tiny'] : []), '--preprocess', '--json', json];
    process.stderr.write(`bench: clipkit_bench ${args.join(' ')}\n`);
    const ran = await run(exe, args, 1_800_000);
    if (ran.code !== 0) throw new Error(`clipkit_bench ${args.join(' ')} exited with ${ran.code ?? 'a signal'}:\n${tail(ran.output)}`);
    if (!existsSync(json)) throw new Error(`clipkit_bench wrote no ${json}:\n${tail(ran.output)}`);
    return parseCppBenchJson(readFileSync(json, 'utf8'), json);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One measured kernel as clipkit_bench --json reports it (bench/main.cc, "version": 1). */
interface CppResult {
  kernel: string;
  device: string;
  shape: string;
  isa?: string;
  seconds: number;
  gflops?: number;
  gbs?: number;
  /** Of the FMA peak (gflops) or of the read / copy bandwidth that bounds the kernel (gbs). */
  fraction_of_peak?: number;
  /** Which peak fraction_of_peak is of, when not the FMA peak (bf16 GEMM rows). */
  peak?: string;
}

function fail(file: string, what: string): never {
  throw new Error(`${file}: unexpected clipkit_bench JSON: ${what}`);
}

function positive(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0;
}

export function parseCppBenchJson(text: string, file: string): CppBench {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    fail(file, (err as Error).message);
  }
  if (typeof doc !== 'object' || doc === null) fail(file, 'not an object');
  const { peak, results } = doc as { peak?: Record<string, unknown>; results?: unknown };
  if (!Array.isArray(results)) fail(file, 'no "results" array');
  const fma = peak?.['fma_gflops'];
  const copy = peak?.['copy_gbs'];
  const read = peak?.['read_gbs'];
  if (!positive(fma) || !positive(copy) || !positive(read)) fail(file, 'peak.fma_gflops, copy_gbs and read_gbs must be positive numbers');
  const rows: BenchRow[] = [
    { name: 'C++ measured FMA peak (all threads)', unit: 'GFLOP/s', value: fma },
    { name: 'C++ measured copy bandwidth (read + write)', unit: 'GB/s', value: copy },
    { name: 'C++ measured read bandwidth', unit: 'GB/s', value: read },
  ];
  // bf16 ceilings, where the CPU has the instructions.
  const dp = peak?.['bf16_dp_gflops'];
  const amx = peak?.['amx_bf16_gflops'];
  if (positive(dp)) rows.push({ name: 'C++ measured AVX512_BF16 (vdpbf16ps) peak (all threads)', unit: 'GFLOP/s', value: dp });
  if (positive(amx)) rows.push({ name: 'C++ measured AMX bf16 (tdpbf16ps) peak (all threads)', unit: 'GFLOP/s', value: amx });
  const names = new Set(rows.map((r) => r.name));
  for (const [i, r] of (results as CppResult[]).entries()) {
    if (typeof r?.kernel !== 'string' || typeof r.shape !== 'string' || typeof r.device !== 'string') {
      fail(file, `results[${i}] needs kernel, device and shape strings`);
    }
    let name = `C++ ${r.kernel} ${r.shape}${r.device !== 'cpu' ? ` (${r.device})` : ''}`;
    if (names.has(name) && r.isa !== undefined) name += ` (${r.isa})`;
    if (names.has(name)) fail(file, `results[${i}] repeats "${name}"`);
    names.add(name);
    const of = positive(r.fraction_of_peak) ? `${(100 * r.fraction_of_peak).toFixed(0)}% of measured ` : undefined;
    if (positive(r.gflops)) {
      const ceiling = typeof r.peak === 'string' ? r.peak : 'FMA peak';
      rows.push({ name, unit: 'GFLOP/s', value: r.gflops, ...(of ? { note: `${of}${ceiling}` } : {}) });
    } else if (positive(r.gbs)) {
      rows.push({ name, unit: 'GB/s', value: r.gbs, ...(of ? { note: `${of}bandwidth` } : {}) });
    } else {
      fail(file, `results[${i}] (${name}) has no positive gflops or gbs`);
    }
  }
  return { rows, peakGflops: fma, copyGBs: copy, readGBs: read };
}
