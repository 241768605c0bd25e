// Timing: warm-up runs, then the median of repeated runs. Medians resist the noise of a shared
// 2-core machine better than means; ratios are only ever taken between rows of one run.

export interface MeasureOptions {
  warmup?: number;
  repeats?: number;
  /** Stop repeating once this much time was spent (the median of what ran is kept). */
  maxSeconds?: number;
}

/** Median seconds per call of fn. */
export async function measure(fn: () => unknown, opts: MeasureOptions = {}): Promise<number> {
  const warmup = opts.warmup ?? 1;
  const repeats = opts.repeats ?? 5;
  const budget = (opts.maxSeconds ?? 30) * 1e3;
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  const start = performance.now();
  for (let i = 0; i < repeats; i++) {
    const t = performance.now();
    await fn();
    times.push((performance.now() - t) / 1e3);
    if (performance.now() - start > budget) break;
  }
  return median(times);
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new RangeError('median of nothing');
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Seeded uniform floats in [-1, 1): benchmarks must not depend on Math.random. */
export function randomFloats(n: number, seed = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = (s >>> 0) / 2 ** 31 - 1;
  }
  return out;
}

/** Seeded RGB bytes (xorshift) for generated images, no Math.random. */
export function noiseRgb(width: number, height: number, seed: number): Buffer {
  const out = Buffer.alloc(width * height * 3);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < out.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = s & 0xff;
  }
  return out;
}
