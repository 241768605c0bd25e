// .npy read/write: round trips, NumPy-written headers for int32/int64, and malformed files as
// ModelFormatErrors naming the file.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ModelFormatError } from '../src/errors.js';
import { encodeNpy, parseNpy, readNpy, writeNpy } from '../src/util/npy.js';
import { scratchDir } from './helpers/tmp-dir.js';

const tmp = scratchDir('npy');

/** An .npy as NumPy writes it (version 1.0, header padded to 64 bytes). */
function npyBytes(descr: string, shape: string, data: Uint8Array, opts: { fortran?: boolean; version?: number } = {}): Uint8Array {
  let header = `{'descr': '${descr}', 'fortran_order': ${opts.fortran ? 'True' : 'False'}, 'shape': ${shape}, }`;
  const version = opts.version ?? 1;
  const prefix = version === 1 ? 10 : 12;
  header = header.padEnd(Math.ceil((prefix + header.length + 1) / 64) * 64 - prefix - 1, ' ') + '\n';
  const head = Buffer.alloc(prefix);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]).copy(head);
  if (version === 1) head.writeUInt16LE(header.length, 8);
  else head.writeUInt32LE(header.length, 8);
  return Buffer.concat([head, Buffer.from(header, 'latin1'), data]);
}

describe('npy', () => {
  it('writes float32 C-order files that read back identically, data 64-byte aligned', () => {
    const file = path.join(tmp(), 'x.npy');
    const data = Float32Array.from({ length: 2 * 3 * 4 }, (_, i) => i * 0.5 - 3);
    writeNpy(file, data, [2, 3, 4]);
    const back = readNpy(file);
    expect(back.dtype).toBe('float32');
    expect(back.shape).toEqual([2, 3, 4]);
    expect(Array.from(back.data as Float32Array)).toEqual(Array.from(data));
    const bytes = encodeNpy(data, [2, 3, 4]);
    expect((bytes.length - data.byteLength) % 64).toBe(0);
    expect(new TextDecoder().decode(bytes.subarray(10, 70))).toContain("'shape': (2, 3, 4)");
    // 1-D shapes need Python's trailing comma: (5,)
    expect(new TextDecoder().decode(encodeNpy(new Float32Array(5), [5]).subarray(10, 70))).toContain("'shape': (5,)");
  });

  it('writes int32 (token ids) that read back as int32', () => {
    const file = path.join(tmp(), 'ids.npy');
    const ids = Int32Array.from([49406, 320, 49407, 0, -5, 2 ** 31 - 1]);
    writeNpy(file, ids, [2, 3]);
    const back = readNpy(file);
    expect(back.dtype).toBe('int32');
    expect(back.shape).toEqual([2, 3]);
    expect(Array.from(back.data as Int32Array)).toEqual(Array.from(ids));
  });

  it('reads int32 and int64 arrays, and version 2 headers', () => {
    const i32 = Int32Array.from([1, -2, 3, 49407]);
    const a = parseNpy(npyBytes('<i4', '(2, 2)', new Uint8Array(i32.buffer)));
    expect(a.dtype).toBe('int32');
    expect(Array.from(a.data as Int32Array)).toEqual([1, -2, 3, 49407]);
    const i64 = BigInt64Array.from([49406n, -1n, 2n ** 40n]);
    const b = parseNpy(npyBytes('<i8', '(3,)', new Uint8Array(i64.buffer), { version: 2 }));
    expect(b.dtype).toBe('int64');
    expect(b.shape).toEqual([3]);
    expect(Array.from(b.data as BigInt64Array)).toEqual([49406n, -1n, 2n ** 40n]);
    const scalar = parseNpy(npyBytes('<f4', '()', new Uint8Array(Float32Array.from([2.5]).buffer)));
    expect(scalar.shape).toEqual([]);
    expect(scalar.data[0]).toBe(2.5);
  });

  it('copies unaligned data instead of failing', () => {
    const bytes = npyBytes('<f4', '(2,)', new Uint8Array(Float32Array.from([1.5, -2]).buffer));
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    expect(Array.from(parseNpy(shifted.subarray(1)).data as Float32Array)).toEqual([1.5, -2]);
  });

  it('malformed or unsupported files are ModelFormatErrors naming the file and the problem', () => {
    const f4 = new Uint8Array(Float32Array.from([1, 2, 3, 4]).buffer);
    const cases: Array<[Uint8Array, RegExp]> = [
      [new Uint8Array(Buffer.from('PK\x03\x04 this is a zip')), /magic/],
      [npyBytes('<f4', '(2, 3)', f4), /needs 24 data bytes, the file has 16/],
      [npyBytes('>f4', '(4,)', f4), /dtype '>f4'/],
      [npyBytes('<f8', '(2,)', f4), /dtype '<f8'/],
      [npyBytes('<f4', '(2, 2)', f4, { fortran: true }), /Fortran/],
      [npyBytes('<f4', '(2, x)', f4), /shape entry 'x'/],
      [npyBytes('<f4', '(4,)', f4).subarray(0, 40), /past the end/],
    ];
    const dir = tmp();
    cases.forEach(([bytes, problem], i) => {
      const file = path.join(dir, `bad${i}.npy`);
      writeFileSync(file, bytes);
      const err = (() => {
        try {
          readNpy(file);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(err, `case ${i}`).toBeInstanceOf(ModelFormatError);
      expect((err as Error).message).toContain(`bad${i}.npy`);
      expect((err as Error).message).toMatch(problem);
    });
    expect(() => readNpy(path.join(dir, 'missing.npy'))).toThrow(ModelFormatError);
  });

  it('encodeNpy refuses a shape that does not match the data', () => {
    expect(() => encodeNpy(new Float32Array(6), [4, 2])).toThrow(RangeError);
  });
});
