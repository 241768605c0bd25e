// Plain TypeScript kernels: the baseline each native kernel is measured against, written the way
// a careful JS developer would (flat typed arrays, row-major, no allocation in loops).

/** out[m,n] = x[m,k] · w[n,k]ᵀ + bias[n] */
export function linearJs(x: Float32Array, w: Float32Array, bias: Float32Array, out: Float32Array, m: number, n: number, k: number): void {
  for (let i = 0; i < m; i++) {
    const xo = i * k;
    for (let j = 0; j < n; j++) {
      const wo = j * k;
      let s = bias[j]!;
      for (let p = 0; p < k; p++) s += x[xo + p]! * w[wo + p]!;
      out[i * n + j] = s;
    }
  }
}

export function layerNormJs(x: Float32Array, g: Float32Array, b: Float32Array, out: Float32Array, rows: number, dim: number, eps: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * dim;
    let mean = 0;
    for (let i = 0; i < dim; i++) mean += x[o + i]!;
    mean /= dim;
    let v = 0;
    for (let i = 0; i < dim; i++) v += (x[o + i]! - mean) ** 2;
    const inv = 1 / Math.sqrt(v / dim + eps);
    for (let i = 0; i < dim; i++) out[o + i] = (x[o + i]! - mean) * inv * g[i]! + b[i]!;
  }
}

/** Packed qkv [b, t, 3·h·d] → out [b, t, h·d], softmax(q·kᵀ·scale)·v per head. */
export function attentionJs(qkv: Float32Array, out: Float32Array, b: number, t: number, h: number, d: number, causal: boolean): void {
  const stride = 3 * h * d;
  const scale = 1 / Math.sqrt(d);
  const p = new Float32Array(t);
  for (let bi = 0; bi < b; bi++) {
    for (let hi = 0; hi < h; hi++) {
      for (let i = 0; i < t; i++) {
        const qo = (bi * t + i) * stride + hi * d;
        const last = causal ? i + 1 : t;
        let max = -Infinity;
        for (let j = 0; j < last; j++) {
          const ko = (bi * t + j) * stride + h * d + hi * d;
          let s = 0;
          for (let c = 0; c < d; c++) s += qkv[qo + c]! * qkv[ko + c]!;
          p[j] = s * scale;
          if (p[j]! > max) max = p[j]!;
        }
        let sum = 0;
        for (let j = 0; j < last; j++) {
          p[j] = Math.exp(p[j]! - max);
          sum += p[j]!;
        }
        const oo = (bi * t + i) * h * d + hi * d;
        for (let c = 0; c < d; c++) out[oo + c] = 0;
        for (let j = 0; j < last; j++) {
          const vo = (bi * t + j) * stride + 2 * h * d + hi * d;
          const wgt = p[j]! / sum;
          for (let c = 0; c < d; c++) out[oo + c] = out[oo + c]! + wgt * qkv[vo + c]!;
        }
      }
    }
  }
}

/** Top-k rows of items[n,d] by dot product with one query: full scores, then a partial sort. */
export function topKJs(query: Float32Array, items: Float32Array, n: number, d: number, k: number): Int32Array {
  const scores = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    const o = i * d;
    for (let c = 0; c < d; c++) s += query[c]! * items[o + c]!;
    scores[i] = s;
  }
  // Bounded insertion into a sorted array of k: what most JS code does for small k.
  const idx = new Int32Array(k).fill(-1);
  const best = new Float32Array(k).fill(-Infinity);
  for (let i = 0; i < n; i++) {
    const s = scores[i]!;
    if (s <= best[k - 1]!) continue;
    let j = k - 1;
    while (j > 0 && best[j - 1]! < s) {
      best[j] = best[j - 1]!;
      idx[j] = idx[j - 1]!;
      j--;
    }
    best[j] = s;
    idx[j] = i;
  }
  return idx;
}
