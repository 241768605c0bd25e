// A plain-JS stand-in for the addon's kernels whose tensors claim to live on 'cuda'. No CUDA
// device (and no Node on the GPU machine) is available to tests, so this is how the native
// backend's device-memory path — no views, staging copies, per-batch-size buffer sets, freeing
// on eviction — is exercised. Arithmetic is float64, like the reference forward pass.
import type { Activation, AttentionOptions, F32, LinearOptions, NativeKernels, Tensor } from '@clipkit/native-cuda';

export interface JsDeviceKernels {
  kernels: NativeKernels;
  /** Tensors created and not yet disposed. */
  live(): number;
}

class JsTensor implements Tensor {
  readonly dtype = 'f32' as const;
  readonly device = 'cuda' as const;
  disposed = false;
  constructor(
    readonly data: Float32Array,
    readonly shape: readonly number[],
    private readonly onDispose: () => void,
  ) {}
  get size(): number {
    return this.data.length;
  }
  toArray(): Float32Array {
    return this.data.slice();
  }
  write(data: Float32Array): void {
    if (data.length !== this.size) throw new RangeError(`write: ${data.length} values into a tensor of ${this.size}`);
    this.data.set(data);
  }
  dispose(): void {
    if (!this.disposed) this.onDispose();
    this.disposed = true;
  }
}

function device(x: F32, what: string, size: number): Float32Array {
  if (!(x instanceof JsTensor)) throw new TypeError(`${what}: expected a device tensor (mixing host arrays and device tensors)`);
  if (x.disposed) throw new Error(`${what}: tensor was disposed`);
  if (x.size !== size) throw new RangeError(`${what}: has ${x.size} elements, expected ${size}`);
  return x.data;
}

function act(v: number, kind: Activation | undefined): number {
  if (kind === 'quick_gelu') return v / (1 + Math.exp(-1.702 * v));
  if (kind === 'gelu') throw new Error('js device kernels: gelu is not needed by these tests');
  return v;
}

export function jsDeviceKernels(): JsDeviceKernels {
  let live = 0;
  const linear = (x: F32, w: F32, bias: F32 | null, out: F32, o: LinearOptions): void => {
    const X = device(x, 'x', o.m * o.k);
    const W = device(w, 'w', o.n * o.k);
    const B = bias === null ? null : device(bias, 'bias', o.n);
    const R = o.residual ? device(o.residual, 'residual', o.m * o.n) : null;
    const O = device(out, 'out', o.m * o.n);
    const row = new Float64Array(o.n); // out may alias residual
    for (let i = 0; i < o.m; i++) {
      for (let j = 0; j < o.n; j++) {
        let s = B === null ? 0 : B[j]!;
        for (let k = 0; k < o.k; k++) s += X[i * o.k + k]! * W[j * o.k + k]!;
        row[j] = act(s, o.activation) + (R === null ? 0 : R[i * o.n + j]!);
      }
      O.set(row, i * o.n);
    }
  };
  const attention = (qkv: F32, out: F32, o: AttentionOptions): void => {
    const h = o.heads * o.headDim;
    const Q = device(qkv, 'qkv', o.batch * o.tokens * 3 * h);
    const O = device(out, 'out', o.batch * o.tokens * h);
    const at = (b: number, t: number, block: number, head: number, d: number) => Q[(b * o.tokens + t) * 3 * h + block * h + head * o.headDim + d]!;
    for (let b = 0; b < o.batch; b++) {
      for (let head = 0; head < o.heads; head++) {
        for (let i = 0; i < o.tokens; i++) {
          const keys = o.causal ? i + 1 : o.tokens;
          const p = new Float64Array(keys);
          for (let j = 0; j < keys; j++) {
            for (let d = 0; d < o.headDim; d++) p[j]! += at(b, i, 0, head, d) * at(b, j, 1, head, d);
            p[j]! /= Math.sqrt(o.headDim);
          }
          const max = Math.max(...p);
          let total = 0;
          for (let j = 0; j < keys; j++) total += p[j] = Math.exp(p[j]! - max);
          for (let d = 0; d < o.headDim; d++) {
            let acc = 0;
            for (let j = 0; j < keys; j++) acc += p[j]! * at(b, j, 2, head, d);
            O[(b * o.tokens + i) * h + head * o.headDim + d] = acc / total;
          }
        }
      }
    }
  };
  const kernels: Partial<NativeKernels> = {
    chainAsync: async (calls) => {
      for (const [kernel, ...args] of calls) {
        const run = kernels[kernel] as ((...a: unknown[]) => unknown) | undefined;
        if (run === undefined) throw new TypeError(`js device kernels: no ${kernel}`);
        run(...args);
      }
    },
    tensor: (data, shape, opts) => {
      if (opts?.device !== 'cuda' || !(data instanceof Float32Array)) throw new TypeError('js device kernels: f32 cuda tensors only');
      live++;
      return new JsTensor(Float32Array.from(data), [...shape], () => live--);
    },
    linear,
    linearAsync: async (...args) => linear(...args),
    attention,
    attentionAsync: async (...args) => attention(...args),
    layerNorm: (x, gamma, beta, out, o) => {
      const X = device(x, 'x', o.rows * o.dim);
      const G = device(gamma, 'gamma', o.dim);
      const Bt = device(beta, 'beta', o.dim);
      const O = device(out, 'out', o.rows * o.dim);
      for (let r = 0; r < o.rows; r++) {
        const v = X.subarray(r * o.dim, (r + 1) * o.dim);
        const mean = v.reduce((a, b) => a + b, 0) / o.dim;
        const variance = v.reduce((a, b) => a + (b - mean) ** 2, 0) / o.dim;
        const inv = 1 / Math.sqrt(variance + o.eps);
        for (let j = 0; j < o.dim; j++) O[r * o.dim + j] = (X[r * o.dim + j]! - mean) * inv * G[j]! + Bt[j]!;
      }
    },
  };
  return { kernels: kernels as NativeKernels, live: () => live };
}
