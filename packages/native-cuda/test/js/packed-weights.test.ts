// A CPU Tensor weight is packed once and cached: linear() then sums every row in the same
// order whatever the batch size, and anything that rewrites the tensor drops the pack.
import { describe, expect, it } from 'vitest';

import * as native from '../../lib/index.js';
import { linearRef, randomF32, relError, rng } from './reference.js';

const TOL = 1e-5;
const [n, k] = [70, 300];

function rowsOf(a: Float32Array, first: number, count: number, width: number): Float32Array {
  return a.slice(first * width, (first + count) * width);
}

describe('linear with a Tensor weight', () => {
  // One row alone and in batches on both sides of the old 64-row switch between GEMM paths.
  for (const m of [1, 130]) {
    it(`rows of m=${m} are bit-identical to the same rows of larger batches`, async () => {
      const next = rng(500 + m);
      const big = 200;
      const x = randomF32(next, big * k);
      const w = native.tensor(randomF32(next, n * k, -0.5, 0.5), [n, k]);
      const bias = randomF32(next, n);
      const residual = randomF32(next, big * n);

      const all = residual.slice();
      await native.linearAsync(x, w, bias, all, { m: big, n, k, activation: 'gelu', residual: all });
      expect(relError(all, linearRef(x, w.toArray(), bias, residual, big, n, k, 'gelu'))).toBeLessThan(TOL);

      for (const first of [0, 37, big - m]) {
        const part = rowsOf(residual, first, m, n);
        native.linear(rowsOf(x, first, m, k), w, bias, part, { m, n, k, activation: 'gelu', residual: part });
        expect(part).toEqual(rowsOf(all, first, m, n));
      }
      w.dispose();
    });
  }

  it('write() drops the cached pack', () => {
    const next = rng(601);
    const m = 3;
    const x = randomF32(next, m * k);
    const first = randomF32(next, n * k);
    const second = randomF32(next, n * k);
    const w = native.tensor(first, [n, k]);
    const out = new Float32Array(m * n);
    native.linear(x, w, null, out, { m, n, k });
    expect(relError(out, linearRef(x, first, null, null, m, n, k, 'none'))).toBeLessThan(TOL);
    w.write(second);
    native.linear(x, w, null, out, { m, n, k });
    expect(relError(out, linearRef(x, second, null, null, m, n, k, 'none'))).toBeLessThan(TOL);
  });

  it('a tensor written as a kernel output drops its cached pack', () => {
    const next = rng(602);
    const m = 2;
    const x = randomF32(next, m * k);
    const a = randomF32(next, n * k);
    const b = randomF32(next, n * k);
    const w = native.tensor(a, [n, k]);
    const out = new Float32Array(m * n);
    native.linear(x, w, null, out, { m, n, k });
    native.add(a, b, w);
    const sum = a.map((v, i) => v + (b[i] ?? 0));
    native.linear(x, w, null, out, { m, n, k });
    expect(relError(out, linearRef(x, sum, null, null, m, n, k, 'none'))).toBeLessThan(TOL);
  });

  it('a chain that rewrites its weight between two linear calls packs it anew', async () => {
    const next = rng(604);
    const m = 2;
    const x = randomF32(next, m * k);
    const a = randomF32(next, n * k);
    const b = randomF32(next, n * k);
    const w = native.tensor(a, [n, k]);
    const before = new Float32Array(m * n);
    const after = new Float32Array(m * n);
    await native.chainAsync([
      ['linear', x, w, null, before, { m, n, k }],
      ['add', a, b, w],
      ['linear', x, w, null, after, { m, n, k }],
    ]);
    const sum = a.map((v, i) => v + (b[i] ?? 0));
    expect(relError(before, linearRef(x, a, null, null, m, n, k, 'none'))).toBeLessThan(TOL);
    expect(relError(after, linearRef(x, sum, null, null, m, n, k, 'none'))).toBeLessThan(TOL);
    w.dispose();
  });

  it('the same tensor seen as n×k and as k×n is packed for each shape', () => {
    const next = rng(603);
    const [m, p, q] = [4, 6, 10];
    const w = native.tensor(randomF32(next, p * q), [p * q]);
    const x1 = randomF32(next, m * q);
    const x2 = randomF32(next, m * p);
    const out1 = new Float32Array(m * p);
    const out2 = new Float32Array(m * q);
    native.linear(x1, w, null, out1, { m, n: p, k: q });
    native.linear(x2, w, null, out2, { m, n: q, k: p });
    expect(relError(out1, linearRef(x1, w.toArray(), null, null, m, p, q, 'none'))).toBeLessThan(TOL);
    expect(relError(out2, linearRef(x2, w.toArray(), null, null, m, q, p, 'none'))).toBeLessThan(TOL);
  });
});
