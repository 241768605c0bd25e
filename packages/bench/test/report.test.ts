// Ratios, tables and the chart from hand-made results (the end-to-end run is bench.test.ts).
import { describe, expect, it } from 'vitest';
import type { MachineInfo } from '../src/machine.js';
import { markdown, ratios, svgChart } from '../src/report.js';
import type { SuiteResult } from '../src/types.js';

const machine: MachineInfo = {
  cpuModel: 'Test CPU <v2> & co',
  cores: 2,
  memoryBytes: 1 << 30,
  isa: 'avx2',
  threads: 2,
  cuda: { compiled: false, available: false, devices: [], error: null },
  addonError: null,
  node: 'v20.0.0',
  versions: {},
  gitCommit: null,
  date: '2026-01-01T00:00:00.000Z',
  loadAverage: 0.5,
};

const results: SuiteResult[] = [
  {
    suite: 'a',
    seconds: 1,
    rows: [
      { name: 'fast', unit: 'images/s', value: 30, baseline: 'slow', headline: true },
      { name: 'slow', unit: 'images/s', value: 10 },
      { name: 'quick ms', unit: 'ms', value: 5, baseline: 'slow ms', headline: true },
      { name: 'slow ms', unit: 'ms', value: 20 },
      { name: 'worse', unit: 'GB/s', value: 1, baseline: 'better', headline: true },
      { name: 'vs a TS loop', unit: 'GB/s', value: 40, baseline: 'better' },
      { name: 'better', unit: 'GB/s', value: 4 },
      { name: 'orphan', unit: 'GB/s', value: 4, baseline: 'not a row' },
    ],
    notes: ['a caveat'],
  },
  { suite: 'b', seconds: 0, rows: [], skipped: 'no vocabulary' },
  { suite: 'c', seconds: 0, rows: [], failed: 'boom' },
];

describe('ratios', () => {
  it('is value over baseline, inverted for times, and ignores a missing baseline', () => {
    expect(ratios(results)).toEqual([
      { suite: 'a', name: 'fast', baseline: 'slow', ratio: 3, headline: true },
      { suite: 'a', name: 'quick ms', baseline: 'slow ms', ratio: 4, headline: true },
      { suite: 'a', name: 'worse', baseline: 'better', ratio: 0.25, headline: true },
      { suite: 'a', name: 'vs a TS loop', baseline: 'better', ratio: 10, headline: false },
    ]);
  });

  it('only pairs rows of the same suite', () => {
    const split: SuiteResult[] = [
      { suite: 'x', seconds: 0, rows: [{ name: 'r', unit: 'ms', value: 1, baseline: 'b' }] },
      { suite: 'y', seconds: 0, rows: [{ name: 'b', unit: 'ms', value: 2 }] },
    ];
    expect(ratios(split)).toEqual([]);
  });
});

describe('markdown', () => {
  const md = markdown(results, machine);
  it('has a table row with the speed-up for each figure, notes, and the reason a suite did not run', () => {
    expect(md).toContain('| fast | 30.00 | images/s | 3.00× slow |  |');
    expect(md).toContain('| quick ms | 5.00 | ms | 4.00× slow ms |  |');
    expect(md).toContain('| worse | 1.00 | GB/s | 0.250× better |  |');
    expect(md).toContain('_note: a caveat_');
    expect(md).toContain('_skipped: no vocabulary_');
    expect(md).toContain('**failed: boom**');
  });
});

describe('svgChart', () => {
  const svg = svgChart(results, machine);
  it('draws one bar per headline ratio, right of the 1× line when faster and left when slower', () => {
    const bars = [...svg.matchAll(/<rect class="ratio" x="([\d.]+)" y="[\d.]+" width="([\d.]+)"/g)].map((m) => ({ x: Number(m[1]), w: Number(m[2]) }));
    expect(bars).toHaveLength(3);
    const axis = Number(/<line x1="([\d.]+)"/.exec(svg)![1]);
    expect(bars[0]!.x).toBeCloseTo(axis, 1);
    expect(bars[2]!.x + bars[2]!.w).toBeCloseTo(axis, 1);
    expect(bars[1]!.w).toBeGreaterThan(bars[0]!.w); // 4× is longer than 3×
  });

  it('leaves ratios against plain TypeScript loops to the tables', () => {
    expect(svg).not.toContain('vs a TS loop');
    expect(markdown(results, machine)).toContain('| vs a TS loop | 40.00 | GB/s | 10.00× better |  |');
  });

  it('escapes text', () => {
    expect(svg).toContain('Test CPU &lt;v2&gt; &amp; co');
    expect(svg).not.toContain('<v2>');
  });
});
