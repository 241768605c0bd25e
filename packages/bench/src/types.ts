// One measured figure. `baseline` names another row of the same suite measured in the same run;
// the report turns the pair into a ratio (speed-up: >1 means this row is faster).
export interface BenchRow {
  name: string;
  unit: string; // 'images/s', 'tokens/s', 'GFLOP/s', 'GB/s' (higher is better) or 'ms' (lower is better)
  value: number;
  baseline?: string;
  /** e.g. fraction of the measured FMA peak or memory bandwidth. */
  note?: string;
  /**
   * The baseline is what users would run instead (Transformers.js, onnxruntime-node, sharp):
   * such ratios lead the chart; the rest (plain TypeScript loops, cache on/off) stay in tables.
   */
  headline?: boolean;
}

export interface SuiteResult {
  suite: string;
  rows: BenchRow[];
  /** Why the suite could not run here (missing vocabulary, no compiler, …): not a failure. */
  skipped?: string;
  /** The suite threw: the run exits 1. */
  failed?: string;
  /** Caveats printed under the suite's table (e.g. a part that could not run here). */
  notes?: string[];
  seconds: number;
}

export interface BenchOptions {
  /** Fewer repeats and smaller inputs: the whole run in a few minutes. */
  quick: boolean;
  /** Smallest shapes that still exercise every code path (the harness test); implies quick. */
  tiny?: boolean;
}

export interface SuiteOutput {
  rows: BenchRow[];
  notes?: string[];
}

export type Suite = (opts: BenchOptions) => Promise<BenchRow[] | SuiteOutput>;

/** Thrown by a suite that cannot run in this environment; the run records the reason and goes on. */
export class SuiteSkipped extends Error {
  override readonly name = 'SuiteSkipped';
}
