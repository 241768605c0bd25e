// The harness end to end: `--tiny` runs every suite on the smallest shapes as a child process,
// and the output's structure is checked (never its speed).
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const pkgRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SUITES = ['kernels', 'tokenizer', 'preprocess', 'encoders', 'library', 'serve', 'transformers', 'postgres', 'postgres-search'];

interface Row {
  name: string;
  unit: string;
  value: number;
  baseline?: string;
  note?: string;
}
interface Suite {
  suite: string;
  rows: Row[];
  skipped?: string;
  failed?: string;
  seconds: number;
}
interface Report {
  machine: { cpuModel: string; isa: string; threads: number; node: string; gitCommit: string | null; versions: Record<string, string>; loadAverage: number };
  mode: string;
  suites: Suite[];
  ratios: Array<{ suite: string; name: string; baseline: string; ratio: number; headline: boolean }>;
}

/** Tags balance and every `&` starts an entity: enough to catch a broken chart. */
function expectWellFormedXml(xml: string): void {
  const stack: string[] = [];
  for (const m of xml.matchAll(/<(\/?)([A-Za-z][\w:-]*)[^<>]*?(\/?)>/g)) {
    const [, closing, tag, selfClosing] = m;
    if (selfClosing) continue;
    if (closing) expect(stack.pop(), `</${tag}>`).toBe(tag);
    else stack.push(tag!);
  }
  expect(stack).toEqual([]);
  expect(xml.replace(/&(amp|lt|gt|quot|apos);/g, '')).not.toMatch(/&/);
  expect(xml.replace(/<[^<>]*>/g, '')).not.toMatch(/[<>]/);
}

let out: string;
let run: SpawnSyncReturns<string>;

beforeAll(() => {
  const tsc = path.join(path.dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');
  execFileSync(process.execPath, [tsc, '-p', path.join(pkgRoot, 'tsconfig.json')], { stdio: 'inherit' });
  out = mkdtempSync(path.join(tmpdir(), 'clipkit-bench-test-'));
  run = spawnSync(process.execPath, ['dist/main.js', '--tiny', '--out', out], { cwd: pkgRoot, encoding: 'utf8', timeout: 600_000 });
}, 660_000);

afterAll(() => {
  if (out) rmSync(out, { recursive: true, force: true });
});

describe('npm run bench -- --tiny', () => {
  it('exits 0', () => {
    expect(run.error).toBeUndefined();
    expect(run.status, run.stderr).toBe(0);
  });

  it('writes JSON with machine info, every suite and ratios', () => {
    const files = readdirSync(out);
    const stamped = files.filter((f) => /^bench-tiny-.+\.json$/.test(f));
    expect(stamped).toHaveLength(1);
    expect(files).toContain('latest-tiny.json');
    const report = JSON.parse(readFileSync(path.join(out, stamped[0]!), 'utf8')) as Report;
    expect(report.mode).toBe('tiny');
    expect(report.machine.cpuModel).toMatch(/\S/);
    expect(report.machine.isa).toMatch(/^(avx512|avx2|generic|unknown)$/);
    expect(report.machine.node).toBe(process.version);
    expect(report.machine.gitCommit).toMatch(/^[0-9a-f]{40}$/);
    expect(report.machine.loadAverage).toBeGreaterThanOrEqual(0);
    expect(Object.keys(report.machine.versions)).toEqual(expect.arrayContaining(['onnxruntime-node', 'sharp']));
    expect(report.suites.map((s) => s.suite)).toEqual(SUITES);

    let withBaseline = 0;
    for (const suite of report.suites) {
      expect(suite.failed, `${suite.suite} failed`).toBeUndefined();
      expect(Number.isFinite(suite.seconds) && suite.seconds >= 0).toBe(true);
      if (suite.skipped !== undefined) {
        console.warn(`bench suite "${suite.suite}" was skipped, its rows are not checked: ${suite.skipped}`);
        expect(suite.skipped, `${suite.suite} skipped without a reason`).toMatch(/\S/);
        expect(suite.rows).toEqual([]);
        continue;
      }
      expect(suite.rows.length, `${suite.suite} has no rows`).toBeGreaterThan(0);
      const names = new Set(suite.rows.map((r) => r.name));
      expect(names.size, `${suite.suite} has duplicate row names`).toBe(suite.rows.length);
      for (const row of suite.rows) {
        expect(Number.isFinite(row.value) && row.value > 0, `${suite.suite}: ${row.name} = ${row.value}`).toBe(true);
        expect(row.unit).toMatch(/\S/);
        if (row.baseline !== undefined) {
          withBaseline++;
          expect(row.baseline).not.toBe(row.name);
          expect(names.has(row.baseline), `${suite.suite}: ${row.name} → missing baseline "${row.baseline}"`).toBe(true);
          expect(suite.rows.find((r) => r.name === row.baseline)!.unit).toBe(row.unit);
        }
      }
    }
    expect(report.ratios).toHaveLength(withBaseline);
    for (const r of report.ratios) expect(Number.isFinite(r.ratio) && r.ratio > 0).toBe(true);
  });

  it('prints a markdown table per suite that ran, and the reason for each skipped one', () => {
    const report = JSON.parse(readFileSync(path.join(out, 'latest-tiny.json'), 'utf8')) as Report;
    for (const suite of report.suites) {
      const section = run.stdout.split(/^## /m).find((s) => s.startsWith(`${suite.suite} (`));
      expect(section, `no "## ${suite.suite}" section`).toBeDefined();
      if (suite.skipped !== undefined) {
        expect(section).toContain(`_skipped: ${suite.skipped}_`);
        continue;
      }
      const lines = section!.split('\n').filter((l) => l.startsWith('|'));
      expect(lines[0]).toBe('| benchmark | value | unit | vs baseline | note |');
      expect(lines[1]).toMatch(/^\|(-|-:|---:|\|)+$/);
      expect(lines.slice(2).map((l) => l.split(' | ')[0]!.slice(2))).toEqual(suite.rows.map((r) => r.name));
    }
  });

  it('draws an SVG chart with one bar per headline ratio, led by Transformers.js and onnxruntime-node', () => {
    const report = JSON.parse(readFileSync(path.join(out, 'latest-tiny.json'), 'utf8')) as Report;
    const svg = readFileSync(path.join(out, 'latest-tiny.svg'), 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expectWellFormedXml(svg);
    const headline = report.ratios.filter((r) => r.headline);
    expect(svg.match(/<rect class="ratio"/g) ?? []).toHaveLength(headline.length);
    const against = headline.map((r) => r.baseline).join('\n');
    expect(against).toMatch(/Transformers\.js/);
    expect(against).toMatch(/onnx/);
    expect(against).not.toMatch(/plain TS|js api/);
  });
});

describe('a suite that cannot run here', () => {
  it('is skipped with its reason, and the run still exits 0', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'clipkit-bench-skip-'));
    try {
      const env = { ...process.env, CLIPKIT_REFERENCE: path.join(dir, 'no-reference'), CLIPKIT_CACHE: path.join(dir, 'no-cache') };
      const r = spawnSync(process.execPath, ['dist/main.js', '--tiny', '--only', 'tokenizer', '--out', dir], { cwd: pkgRoot, encoding: 'utf8', env });
      expect(r.status, r.stderr).toBe(0);
      const report = JSON.parse(readFileSync(path.join(dir, 'latest-tiny.json'), 'utf8')) as Report;
      expect(report.suites).toHaveLength(1);
      expect(report.suites[0]!.skipped).toMatch(/needs CLIP's vocabulary: no .*no-reference.*vocab\.json/);
      expect(report.suites[0]!.rows).toEqual([]);
      expect(r.stdout).toContain('_skipped: needs CLIP');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('bad command lines', () => {
  it('names an unknown suite and exits 2', () => {
    const r = spawnSync(process.execPath, ['dist/main.js', '--only', 'kernels,nope'], { cwd: pkgRoot, encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('unknown suite "nope"');
    expect(r.stdout).toBe('');
  });

  it('names an unknown flag and exits 2', () => {
    const r = spawnSync(process.execPath, ['dist/main.js', '--fast'], { cwd: pkgRoot, encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--fast');
  });
});
