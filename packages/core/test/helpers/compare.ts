// Numeric comparison with explicit tolerances: ‖out−ref‖/‖ref‖ and max |out−ref|, in float64.
import { expect } from 'vitest';

export interface Diff {
  rel: number;
  maxAbs: number;
}

export function diff(out: ArrayLike<number>, ref: ArrayLike<number>): Diff {
  expect(out.length).toBe(ref.length);
  let num = 0;
  let den = 0;
  let maxAbs = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = (out[i] as number) - (ref[i] as number);
    num += d * d;
    den += (ref[i] as number) ** 2;
    maxAbs = Math.max(maxAbs, Math.abs(d));
  }
  return { rel: Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30), maxAbs: Number.isNaN(num) ? NaN : maxAbs };
}

/** Fails with both numbers in the message when either bound is exceeded (NaN fails too). */
export function expectClose(out: ArrayLike<number>, ref: ArrayLike<number>, bounds: { rel: number; maxAbs: number }, what: string): Diff {
  const d = diff(out, ref);
  expect(d.rel <= bounds.rel && d.maxAbs <= bounds.maxAbs, `${what}: rel ${d.rel.toExponential(2)} (≤ ${bounds.rel}), max abs ${d.maxAbs.toExponential(2)} (≤ ${bounds.maxAbs})`).toBe(true);
  return d;
}
