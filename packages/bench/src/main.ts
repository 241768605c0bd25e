// `npm run bench [-- --quick | --tiny] [--only kernels,encoders] [--out DIR]`: every suite, a
// markdown table on stdout, JSON + SVG under results/ (or --out).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { machineInfo } from './machine.js';
import { markdown, svgChart, toJson } from './report.js';
import { SuiteSkipped, type BenchOptions, type Suite, type SuiteResult } from './types.js';

interface SuiteEntry {
  load: () => Promise<Suite>;
  /** Runs native kernels: skipped (with the loader's reason) when the addon does not load. */
  needsAddon: boolean;
}

const SUITES: Record<string, SuiteEntry> = {
  kernels: { load: async () => (await import('./suites/kernels.js')).benchKernels, needsAddon: true },
  tokenizer: { load: async () => (await import('./suites/tokenizer.js')).benchTokenizer, needsAddon: false },
  preprocess: { load: async () => (await import('./suites/preprocess.js')).benchPreprocess, needsAddon: true },
  encoders: { load: async () => (await import('./suites/encoders.js')).benchEncoders, needsAddon: true },
  library: { load: async () => (await import('./suites/library.js')).benchImport, needsAddon: true },
  serve: { load: async () => (await import('./suites/serve.js')).benchServe, needsAddon: true },
  transformers: { load: async () => (await import('./suites/transformers.js')).benchTransformers, needsAddon: true },
  postgres: { load: async () => (await import('./suites/postgres.js')).benchPostgres, needsAddon: true },
  'postgres-search': { load: async () => (await import('./suites/postgres-search.js')).benchPostgresSearch, needsAddon: true },
};

const USAGE = 'usage: clipkit-bench [--quick | --tiny] [--only SUITE,…] [--out DIR]';

function usageError(message: string): never {
  process.stderr.write(`bench: ${message}\n${USAGE}\nsuites: ${Object.keys(SUITES).join(', ')}\n`);
  process.exit(2);
}

function parseCli(): { opts: BenchOptions; names: string[]; outDir: string } {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        quick: { type: 'boolean', default: false },
        tiny: { type: 'boolean', default: false },
        only: { type: 'string' },
        out: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    usageError(err instanceof Error ? err.message : String(err));
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\nsuites: ${Object.keys(SUITES).join(', ')}\n`);
    process.exit(0);
  }
  const tiny = values.tiny ?? false;
  const names = values.only !== undefined ? values.only.split(',').map((s) => s.trim()).filter((s) => s !== '') : Object.keys(SUITES);
  if (names.length === 0) usageError('--only needs at least one suite name');
  for (const n of names) if (!(n in SUITES)) usageError(`unknown suite "${n}" in --only`);
  const outDir = resolve(values.out ?? join(dirname(fileURLToPath(import.meta.url)), '..', 'results'));
  return { opts: { quick: tiny || (values.quick ?? false), tiny }, names, outDir };
}

async function runSuite(name: string, opts: BenchOptions, addonError: string | null): Promise<SuiteResult> {
  const t0 = performance.now();
  const seconds = () => (performance.now() - t0) / 1e3;
  process.stderr.write(`bench: ${name}${opts.tiny ? ' (tiny)' : opts.quick ? ' (quick)' : ''}…\n`);
  const entry = SUITES[name]!;
  if (entry.needsAddon && addonError !== null) {
    const why = `the native addon does not load: ${addonError}`;
    process.stderr.write(`bench: ${name} skipped: ${why}\n`);
    return { suite: name, rows: [], skipped: why, seconds: seconds() };
  }
  try {
    const out = await (await entry.load())(opts);
    const { rows, notes } = Array.isArray(out) ? { rows: out, notes: undefined } : out;
    for (const note of notes ?? []) process.stderr.write(`bench: ${name}: ${note}\n`);
    return { suite: name, rows, ...(notes?.length ? { notes } : {}), seconds: seconds() };
  } catch (err) {
    if (err instanceof SuiteSkipped) {
      process.stderr.write(`bench: ${name} skipped: ${err.message}\n`);
      return { suite: name, rows: [], skipped: err.message, seconds: seconds() };
    }
    process.stderr.write(`bench: ${name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
    return { suite: name, rows: [], failed: err instanceof Error ? err.message : String(err), seconds: seconds() };
  }
}

const { opts, names, outDir } = parseCli();
const machine = machineInfo();
if (machine.loadAverage > machine.cores / 2) {
  process.stderr.write(`bench: load average ${machine.loadAverage.toFixed(1)} on ${machine.cores} cores: other processes will slow the figures down (ratios suffer less)\n`);
}
const results: SuiteResult[] = [];
for (const name of names) results.push(await runSuite(name, opts, machine.addonError));

mkdirSync(outDir, { recursive: true });
const mode = opts.tiny ? 'tiny' : opts.quick ? 'quick' : 'full';
const base = join(outDir, `bench-${mode}-${machine.date.replace(/[:.]/g, '-')}`);
const json = toJson(results, machine, mode);
const svg = svgChart(results, machine);
writeFileSync(`${base}.json`, json);
writeFileSync(`${base}.svg`, svg);
writeFileSync(join(outDir, `latest-${mode}.json`), json);
writeFileSync(join(outDir, `latest-${mode}.svg`), svg);
process.stdout.write(`${markdown(results, machine)}\n`);
process.stderr.write(`bench: wrote ${base}.json and .svg\n`);
