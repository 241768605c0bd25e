// Seeded inputs and plain double-precision JS references for the kernel tests.

/** mulberry32: small, fast, deterministic. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomF32(next: () => number, n: number, lo = -1, hi = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * next();
  return a;
}

/** ‖out − ref‖₂ / ‖ref‖₂ (‖out‖₂ when ref is zero); NaN when either holds NaN. */
export function relError(out: ArrayLike<number>, ref: ArrayLike<number>): number {
  if (out.length !== ref.length) return Infinity;
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < out.length; i++) {
    const d = out[i]! - ref[i]!;
    diff += d * d;
    norm += ref[i]! * ref[i]!;
  }
  return norm > 0 ? Math.sqrt(diff / norm) : Math.sqrt(diff);
}

// Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): well inside the float32 tolerances used.
function erf(x: number): number {
  const s = Math.sign(x);
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const y =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) *
      t *
      Math.exp(-a * a);
  return s * y;
}

export type Act = 'none' | 'quick_gelu' | 'gelu';

export function activate(x: number, act: Act): number {
  if (act === 'quick_gelu') return x / (1 + Math.exp(-1.702 * x));
  if (act === 'gelu') return 0.5 * x * (1 + erf(x / Math.SQRT2));
  return x;
}

export function linearRef(
  x: Float32Array, w: Float32Array, bias: Float32Array | null, residual: Float32Array | null,
  m: number, n: number, k: number, act: Act,
): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let acc = bias ? bias[j]! : 0;
      for (let p = 0; p < k; p++) acc += x[i * k + p]! * w[j * k + p]!;
      out[i * n + j] = activate(acc, act) + (residual ? residual[i * n + j]! : 0);
    }
  }
  return out;
}

export function layerNormRef(
  x: Float32Array, gamma: Float32Array, beta: Float32Array, rows: number, dim: number, eps: number,
): Float64Array {
  const out = new Float64Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    let mean = 0;
    for (let i = 0; i < dim; i++) mean += x[r * dim + i]!;
    mean /= dim;
    let v = 0;
    for (let i = 0; i < dim; i++) v += (x[r * dim + i]! - mean) ** 2;
    const inv = 1 / Math.sqrt(v / dim + eps);
    for (let i = 0; i < dim; i++) out[r * dim + i] = (x[r * dim + i]! - mean) * inv * gamma[i]! + beta[i]!;
  }
  return out;
}

export function softmaxRef(x: Float32Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let max = -Infinity;
    for (let i = 0; i < cols; i++) max = Math.max(max, x[r * cols + i]!);
    let sum = 0;
    for (let i = 0; i < cols; i++) sum += Math.exp(x[r * cols + i]! - max);
    for (let i = 0; i < cols; i++) out[r * cols + i] = Math.exp(x[r * cols + i]! - max) / sum;
  }
  return out;
}

/** qkv [b, t, 3*h*d] packed (q | k | v per token) -> out [b, t, h*d]. */
export function attentionRef(
  qkv: Float32Array, b: number, t: number, h: number, d: number, causal: boolean, scale: number,
): Float64Array {
  const hd = h * d;
  const out = new Float64Array(b * t * hd);
  const at = (bi: number, ti: number, part: number, hi: number, di: number) =>
    qkv[(bi * t + ti) * 3 * hd + part * hd + hi * d + di]!;
  for (let bi = 0; bi < b; bi++) {
    for (let hi = 0; hi < h; hi++) {
      for (let i = 0; i < t; i++) {
        const last = causal ? i : t - 1;
        const s: number[] = [];
        let max = -Infinity;
        for (let j = 0; j <= last; j++) {
          let dot = 0;
          for (let di = 0; di < d; di++) dot += at(bi, i, 0, hi, di) * at(bi, j, 1, hi, di);
          s.push(dot * scale);
          max = Math.max(max, dot * scale);
        }
        let sum = 0;
        for (let j = 0; j <= last; j++) sum += (s[j] = Math.exp(s[j]! - max));
        for (let di = 0; di < d; di++) {
          let acc = 0;
          for (let j = 0; j <= last; j++) acc += s[j]! * at(bi, j, 2, hi, di);
          out[(bi * t + i) * hd + hi * d + di] = acc / sum;
        }
      }
    }
  }
  return out;
}

export function similarityRef(
  a: Float32Array, b: ArrayLike<number>, m: number, n: number, d: number, scale: number,
): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let acc = 0;
      for (let p = 0; p < d; p++) acc += a[i * d + p]! * b[j * d + p]!;
      out[i * n + j] = acc * scale;
    }
  }
  return out;
}

/** Exact float16 decoding (for checking toFloat16 / f16 storage independently of the addon). */
export function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 31) return m === 0 ? sign * Infinity : NaN;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}
