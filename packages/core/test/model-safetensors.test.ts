// safetensors: writer/reader round trips, tensors read on demand, F16/BF16 widening, and every
// malformed-header case rejected with a ModelFormatError naming the problem.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ModelFormatError } from '../src/errors.js';
import {
  SafetensorsFile,
  f32ToBf16Bits,
  f32ToF16Bits,
  readSafetensorsScalar,
  writeSafetensors,
} from '../src/model/safetensors.js';
import { Prng } from '../src/testing/prng.js';
import { scratchDir } from './helpers/tmp-dir.js';

const tmp = scratchDir('safetensors');

function randomValues(n: number, seed: number): Float32Array {
  return new Prng(seed).fillNormal(new Float32Array(n), 1);
}

/** Writes a file whose header is exactly `header` (JSON) followed by `dataBytes` bytes. */
function writeRaw(file: string, header: unknown, dataBytes: number, headerLen?: bigint): void {
  const json = Buffer.from(JSON.stringify(header));
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(headerLen ?? BigInt(json.length));
  writeFileSync(file, Buffer.concat([prefix, json, Buffer.alloc(dataBytes)]));
}

function expectFormatError(fn: () => unknown, pattern: RegExp, file: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(ModelFormatError);
  expect((caught as Error).message).toMatch(pattern);
  expect((caught as ModelFormatError).path).toBe(file);
}

describe('safetensors round trip', () => {
  it('reads back F32 values exactly, each tensor when asked for', () => {
    const file = path.join(tmp(), 'a.safetensors');
    const a = randomValues(6, 1);
    const b = randomValues(20, 2);
    writeSafetensors(file, { a: { dtype: 'F32', shape: [2, 3], data: a }, b: { dtype: 'F32', shape: [4, 5], data: () => b } });
    const st = SafetensorsFile.open(file);
    expect(st.names().sort()).toEqual(['a', 'b']);
    const ra = st.getTensor('a', [2, 3]);
    const rb = st.getTensor('b', [4, 5]);
    expect(ra).toEqual(a);
    expect(rb).toEqual(b);
    // Each has a buffer of its own: keeping one tensor does not keep the file's bytes alive.
    expect(ra.buffer.byteLength).toBe(6 * 4);
    expect(rb.buffer.byteLength).toBe(20 * 4);
    expect(st.info('b')).toMatchObject({ dtype: 'F32', shape: [4, 5] });
  });

  it('reads nothing but the header until a tensor is asked for, and notices a file changed since', () => {
    const file = path.join(tmp(), 'changed.safetensors');
    writeSafetensors(file, { t: { dtype: 'F32', shape: [4], data: randomValues(4, 7) }, u: { dtype: 'F32', shape: [2], data: randomValues(2, 8) } });
    const st = SafetensorsFile.open(file);
    const original = readFileSync(file);
    // Same size, other values: a tensor read later sees the file as it is then.
    const bytes = Buffer.from(original);
    bytes.writeFloatLE(42, bytes.length - 4);
    writeFileSync(file, bytes);
    expect(st.getTensor('u', [2])[1]).toBe(42);
    writeFileSync(file, original.subarray(0, original.length - 4));
    expectFormatError(() => st.getTensor('t', [4]), /file changed since it was opened \(\d+ bytes, was \d+\)/, file);
    rmSync(file);
    expectFormatError(() => st.getTensor('t', [4]), /cannot open/, file);
  });

  it('widens F16 within half precision and BF16 within bfloat16 precision, on each call', () => {
    const file = path.join(tmp(), 'h.safetensors');
    const x = randomValues(1000, 3);
    x[0] = 0;
    x[1] = 65504; // largest half
    x[2] = 1e-7; // half subnormal
    writeSafetensors(file, { h: { dtype: 'F16', shape: [1000], data: x }, b: { dtype: 'BF16', shape: [10, 100], data: x } });
    const st = SafetensorsFile.open(file);
    const h = st.getTensor('h', [1000]);
    const b = st.getTensor('b', [10, 100]);
    for (let i = 0; i < x.length; i++) {
      const v = x[i] as number;
      expect(Math.abs((h[i] as number) - v)).toBeLessThanOrEqual(Math.max(Math.abs(v) * 2 ** -11, 2 ** -25));
      expect(Math.abs((b[i] as number) - v)).toBeLessThanOrEqual(Math.abs(v) * 2 ** -8);
    }
    expect(h[1]).toBe(65504);
    // Not cached: a reader that kept widened copies would hold every weight twice in a backend.
    expect(st.getTensor('h')).not.toBe(h);
    expect(st.getTensor('h')).toEqual(h);
  });

  it('rounds float32 to half and bfloat16 to nearest even', () => {
    // 1 + 2^-11 is exactly between two halves: ties to even (1.0); 1 + 3·2^-11 rounds up.
    expect([...f32ToF16Bits(Float32Array.of(1 + 2 ** -11, 1 + 3 * 2 ** -11, -2, 1e6, 2 ** -24))]).toEqual([
      0x3c00, 0x3c02, 0xc000, 0x7c00, 0x0001,
    ]);
    expect([...f32ToBf16Bits(Float32Array.of(1 + 2 ** -8, 1 + 3 * 2 ** -8, -2))]).toEqual([0x3f80, 0x3f82, 0xc000]);
  });

  it('copies a misaligned F32 tensor instead of failing', () => {
    const file = path.join(tmp(), 'odd.safetensors');
    const x = randomValues(5, 4);
    // A 3-byte header pushes the data region off 4-byte alignment.
    const header = JSON.stringify({ t: { dtype: 'F32', shape: [5], data_offsets: [0, 20] } });
    const hb = Buffer.from(header);
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(BigInt(hb.length));
    expect((8 + hb.length) % 4).not.toBe(0);
    writeFileSync(file, Buffer.concat([prefix, hb, Buffer.from(x.buffer)]));
    expect(SafetensorsFile.open(file).getTensor('t', [5])).toEqual(x);
  });

  it('reads a scalar without loading the weights', () => {
    const file = path.join(tmp(), 's.safetensors');
    writeSafetensors(file, { logit_scale: { dtype: 'F32', shape: [], data: Float32Array.of(4.6052) }, w: { dtype: 'F32', shape: [3], data: randomValues(3, 5) } });
    expect(readSafetensorsScalar(file, 'logit_scale')).toBeCloseTo(4.6052, 6);
    expect(readSafetensorsScalar(file, 'absent')).toBeUndefined();
    expectFormatError(() => readSafetensorsScalar(file, 'w'), /"w" is not a float scalar/, file);
  });
});

describe('safetensors validation', () => {
  const ok = { t: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] } };
  const cases: Array<{ name: string; write: (file: string) => void; error: RegExp }> = [
    { name: 'file shorter than the length prefix', write: (f) => writeFileSync(f, Buffer.alloc(5)), error: /truncated safetensors: 5 bytes/ },
    { name: 'header length 2^60', write: (f) => writeRaw(f, ok, 16, 2n ** 60n), error: /header length 1152921504606846976 exceeds/ },
    { name: 'header not JSON', write: (f) => writeFileSync(f, Buffer.concat([Buffer.from([4, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{{{{')])), error: /not valid UTF-8 JSON/ },
    { name: 'header a JSON array', write: (f) => writeRaw(f, [1, 2], 0), error: /must be a JSON object/ },
    { name: 'unknown dtype', write: (f) => writeRaw(f, { t: { dtype: 'F64', shape: [2], data_offsets: [0, 16] } }, 16), error: /"t": unsupported dtype "F64"/ },
    { name: 'negative dimension', write: (f) => writeRaw(f, { t: { dtype: 'F32', shape: [-1, 4], data_offsets: [0, 16] } }, 16), error: /"t": shape \[-1,4\]/ },
    { name: 'fractional dimension', write: (f) => writeRaw(f, { t: { dtype: 'F32', shape: [1.5], data_offsets: [0, 4] } }, 4), error: /not a list of non-negative integers/ },
    { name: 'offsets past the data (truncated)', write: (f) => writeRaw(f, ok, 12), error: /"t": data_offsets \[0, 16\] run past the 12-byte data region/ },
    { name: 'offsets reversed', write: (f) => writeRaw(f, { t: { dtype: 'F32', shape: [0], data_offsets: [8, 4] } }, 16), error: /begin ≤ end/ },
    { name: 'length not numel·itemsize', write: (f) => writeRaw(f, { t: { dtype: 'F16', shape: [2, 2], data_offsets: [0, 16] } }, 16), error: /holds 16 bytes but shape \[2, 2\] of F16 needs 8/ },
    {
      name: 'overlapping tensors',
      write: (f) =>
        writeRaw(f, { a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] }, b: { dtype: 'F32', shape: [4], data_offsets: [8, 24] } }, 24),
      error: /"a" \[0, 16\) and "b" \[8, 24\) overlap/,
    },
    { name: 'metadata not strings', write: (f) => writeRaw(f, { __metadata__: { format: 1 } }, 0), error: /__metadata__.format must be a string/ },
  ];
  for (const c of cases) {
    it(`rejects ${c.name}`, () => {
      const file = path.join(tmp(), 'bad.safetensors');
      c.write(file);
      expectFormatError(() => SafetensorsFile.open(file), c.error, file);
    });
  }

  it('names the tensor when it is missing or has the wrong shape', () => {
    const file = path.join(tmp(), 'shape.safetensors');
    writeRaw(file, ok, 16);
    const st = SafetensorsFile.open(file);
    expectFormatError(() => st.getTensor('nope', [2, 2]), /tensor "nope" is missing/, file);
    expectFormatError(() => st.getTensor('t', [4]), /tensor "t" has shape \[2, 2\], expected \[4\]/, file);
  });

  it('refuses to use an integer buffer as weights', () => {
    const file = path.join(tmp(), 'int.safetensors');
    writeRaw(file, { position_ids: { dtype: 'I64', shape: [1, 2], data_offsets: [0, 16] } }, 16);
    const st = SafetensorsFile.open(file);
    expectFormatError(() => st.getTensor('position_ids'), /integer dtype I64/, file);
  });

  it('validates in-memory bytes exactly as a file', () => {
    const file = path.join(tmp(), 'once.safetensors');
    writeSafetensors(file, { t: { dtype: 'F32', shape: [4], data: randomValues(4, 6) } });
    const bytes = readFileSync(file);
    expect(SafetensorsFile.fromBytes(bytes, file).getTensor('t')).toEqual(SafetensorsFile.open(file).getTensor('t'));
  });
});
