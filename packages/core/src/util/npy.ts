// NumPy .npy files (format versions 1-3): read float32 / int32 / int64, write float32; C order,
// little-endian only. A malformed or unsupported file is a ModelFormatError naming it.
import { writeFileSync } from 'node:fs';
import { FileAccessError, ModelFormatError } from '../errors.js';
import { fsReason, readRegularFileSync } from './files.js';

export type NpyArray =
  | { dtype: 'float32'; shape: number[]; data: Float32Array }
  | { dtype: 'int32'; shape: number[]; data: Int32Array }
  | { dtype: 'int64'; shape: number[]; data: BigInt64Array };

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const DESCR: Record<string, { dtype: NpyArray['dtype']; bytes: number }> = {
  '<f4': { dtype: 'float32', bytes: 4 },
  '<i4': { dtype: 'int32', bytes: 4 },
  '<i8': { dtype: 'int64', bytes: 8 },
};

export function readNpy(path: string): NpyArray {
  let bytes: Uint8Array;
  try {
    bytes = readRegularFileSync(path);
  } catch (err) {
    throw new ModelFormatError(`cannot read .npy file (${fsReason(err)})`, path, { cause: err });
  }
  return parseNpy(bytes, path);
}

export function parseNpy(bytes: Uint8Array, name = '<npy buffer>'): NpyArray {
  const fail = (problem: string): never => {
    throw new ModelFormatError(`not a supported .npy file: ${problem}`, name);
  };
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) fail('missing the \\x93NUMPY magic');
  const major = bytes[6] ?? 0;
  if (major < 1 || major > 3) fail(`format version ${major} is unknown`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = major === 1 ? view.getUint16(8, true) : bytes.length >= 12 ? view.getUint32(8, true) : fail('truncated header');
  const start = major === 1 ? 10 : 12;
  const dataStart = start + headerLen;
  if (dataStart > bytes.length) fail('header runs past the end of the file');
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(start, dataStart));

  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) fail(`header is not a NumPy dict: ${header.trim()}`);
  const kind = DESCR[descr as string] ?? fail(`dtype '${descr}' (only little-endian float32, int32 and int64 are read)`);
  if (fortran === 'True') fail('Fortran-ordered arrays are not supported');
  const shape = (shapeText as string)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => (/^\d+$/.test(s) ? Number(s) : fail(`shape entry '${s}' is not a non-negative integer`)));
  const count = shape.reduce((a, b) => a * b, 1);
  if (!Number.isSafeInteger(count)) fail('shape is too large');
  const byteLength = count * kind.bytes;
  if (bytes.length - dataStart !== byteLength) {
    fail(`shape [${shape.join(', ')}] needs ${byteLength} data bytes, the file has ${bytes.length - dataStart}`);
  }
  // Typed arrays need aligned offsets; copy only when the data is not aligned.
  const raw = bytes.subarray(dataStart);
  const aligned = (bytes.byteOffset + dataStart) % kind.bytes === 0 ? raw : new Uint8Array(raw); // Buffer#slice would be a view, not a copy
  const { buffer, byteOffset } = aligned;
  switch (kind.dtype) {
    case 'float32':
      return { dtype: 'float32', shape, data: new Float32Array(buffer, byteOffset, count) };
    case 'int32':
      return { dtype: 'int32', shape, data: new Int32Array(buffer, byteOffset, count) };
    default:
      return { dtype: 'int64', shape, data: new BigInt64Array(buffer, byteOffset, count) };
  }
}

/** A version 1.0 .npy of float32 (or int32: token ids) data in C order. */
export function encodeNpy(data: Float32Array | Int32Array, shape: readonly number[]): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0) || count !== data.length) {
    throw new RangeError(`encodeNpy: shape [${shape.join(', ')}] does not describe ${data.length} elements`);
  }
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(', ');
  const descr = data instanceof Int32Array ? '<i4' : '<f4';
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${dims}), }`;
  // Pad so the data starts on a 64-byte boundary, ending the header with a newline.
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header.padEnd(total - 10 - 1, ' ') + '\n';
  const out = new Uint8Array(total + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), total);
  return out;
}

/** Writes the array to path; a failure (full disk, a folder, no permission) is a FileAccessError naming it. */
export function writeNpy(path: string, data: Float32Array | Int32Array, shape: readonly number[]): void {
  const bytes = encodeNpy(data, shape);
  try {
    writeFileSync(path, bytes);
  } catch (err) {
    // write(2) errors carry no path, so without this the CLI could not say which file failed.
    throw new FileAccessError(`cannot write (${fsReason(err)})`, path, { cause: err });
  }
}
