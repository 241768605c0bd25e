// Results → a markdown table (stdout), a JSON file with every figure and the machine, and an SVG
// bar chart of the speed-ups against the baselines measured in the same run.
import type { MachineInfo } from './machine.js';
import type { SuiteResult } from './types.js';

export interface Ratio {
  suite: string;
  name: string;
  baseline: string;
  ratio: number; // > 1: faster than the baseline
  /** Against what users would run instead (BenchRow.headline): these make the chart. */
  headline: boolean;
}

const LOWER_IS_BETTER = new Set(['ms', 's', 'us']);

export function ratios(results: readonly SuiteResult[]): Ratio[] {
  const out: Ratio[] = [];
  for (const suite of results) {
    const byName = new Map(suite.rows.map((r) => [r.name, r]));
    for (const row of suite.rows) {
      if (row.baseline === undefined) continue;
      const base = byName.get(row.baseline);
      if (!base || base.value <= 0 || row.value <= 0) continue;
      const ratio = LOWER_IS_BETTER.has(row.unit) ? base.value / row.value : row.value / base.value;
      out.push({ suite: suite.suite, name: row.name, baseline: row.baseline, ratio, headline: row.headline === true });
    }
  }
  return out;
}

function fmt(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1000) return v.toFixed(0);
  if (a >= 100) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  return v.toPrecision(3);
}

function cudaLine(machine: MachineInfo): string {
  const { cuda } = machine;
  if (cuda === null) return 'native addon not loaded';
  if (cuda.available) return `CUDA ${cuda.devices.map((d) => d.name).join(', ')}`;
  return `CUDA not available${cuda.compiled ? '' : ' (CPU-only build)'}`;
}

export function markdown(results: readonly SuiteResult[], machine: MachineInfo): string {
  const rs = ratios(results);
  const lines: string[] = [
    `# clipkit bench — ${machine.cpuModel}, ${machine.cores} cores, ISA ${machine.isa}, Node ${machine.node}`,
    '',
    `commit ${machine.gitCommit ?? 'unknown'} · ${machine.date} · ${cudaLine(machine)} · load average ${machine.loadAverage.toFixed(2)} at start`,
    '',
  ];
  for (const suite of results) {
    lines.push(`## ${suite.suite} (${suite.seconds.toFixed(1)} s)`, '');
    if (suite.skipped !== undefined || suite.failed !== undefined) {
      lines.push(suite.failed !== undefined ? `**failed: ${suite.failed}**` : `_skipped: ${suite.skipped}_`, '');
      continue;
    }
    lines.push('| benchmark | value | unit | vs baseline | note |', '|---|---:|---|---|---|');
    for (const row of suite.rows) {
      const r = rs.find((x) => x.suite === suite.suite && x.name === row.name);
      lines.push(`| ${row.name} | ${fmt(row.value)} | ${row.unit} | ${r ? `${fmt(r.ratio)}× ${r.baseline}` : ''} | ${row.note ?? ''} |`);
    }
    lines.push('');
    for (const note of suite.notes ?? []) lines.push(`_note: ${note}_`, '');
  }
  return lines.join('\n');
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/**
 * Horizontal bars of log2(speed-up) against what users would run instead (headline ratios);
 * the 1× line marks parity. Ratios against plain TypeScript loops are in the tables only.
 */
export function svgChart(results: readonly SuiteResult[], machine: MachineInfo): string {
  const rs = ratios(results).filter((r) => r.headline);
  const rowH = 22;
  const label = (r: Ratio) => `${r.suite}: ${r.name} vs ${r.baseline}`;
  // No text measuring in plain SVG: ~6.6 px per character of 12 px sans-serif is a safe width.
  const labelW = Math.ceil(16 + 6.6 * Math.max(20, ...rs.map((r) => label(r).length)));
  const plotW = 420;
  const top = 40;
  const height = top + Math.max(1, rs.length) * rowH + 30;
  const width = labelW + plotW + 90;
  const maxLog = Math.max(1, ...rs.map((r) => Math.abs(Math.log2(r.ratio))));
  const x0 = labelW + plotW / 2;
  const scale = plotW / 2 / maxLog;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="20" font-size="14" font-weight="bold">clipkit vs what users would run instead, same run (log scale) — ${escapeXml(machine.cpuModel)}, ${machine.cores} cores, ${machine.isa}</text>`,
  ];
  rs.forEach((r, i) => {
    const y = top + i * rowH;
    const w = Math.log2(r.ratio) * scale;
    const x = w >= 0 ? x0 : x0 + w;
    const color = r.ratio >= 1 ? '#2a9d8f' : '#e76f51';
    parts.push(
      `<text x="${labelW - 8}" y="${y + 15}" text-anchor="end">${escapeXml(label(r))}</text>`,
      `<rect class="ratio" x="${x.toFixed(1)}" y="${y + 4}" width="${Math.max(1, Math.abs(w)).toFixed(1)}" height="${rowH - 8}" fill="${color}"/>`,
      `<text x="${(w >= 0 ? x0 + w + 4 : x0 + 4).toFixed(1)}" y="${y + 15}">${fmt(r.ratio)}×</text>`,
    );
  });
  parts.push(
    `<line x1="${x0}" y1="${top - 4}" x2="${x0}" y2="${height - 24}" stroke="black"/>`,
    `<text x="${x0}" y="${height - 8}" text-anchor="middle">1× (baseline)</text>`,
    '</svg>',
  );
  return parts.join('\n');
}

export function toJson(results: readonly SuiteResult[], machine: MachineInfo, mode: 'full' | 'quick' | 'tiny'): string {
  return JSON.stringify({ machine, mode, suites: results, ratios: ratios(results) }, null, 2);
}
