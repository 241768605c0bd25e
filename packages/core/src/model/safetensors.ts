// safetensors: an 8-byte little-endian header length, a JSON header
// {name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?}, then the data region.
// The reader validates the header before trusting it and reads each tensor's bytes only when it
// is asked for (a text-only search never reads the vision tower); F16/BF16 are widened to
// float32 then. Nothing is cached: callers keep what they need (the native backend copies each
// weight into native memory once, and a cache here would hold a float32 copy of them all).
import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { fsReason, openRegularFileSync } from '../util/files.js';
import { ModelFormatError } from '../errors.js';

export type FloatDType = 'F32' | 'F16' | 'BF16';
/** Integer tensors are accepted (old checkpoints store `position_ids` buffers as I64) but never used as weights. */
export type SafetensorsDType = FloatDType | 'I64' | 'I32';

const ITEM_SIZE: Record<SafetensorsDType, number> = { F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4 };
/** Headers of real checkpoints are a few hundred KiB; anything above this is not a header. */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;
const READ_CHUNK = 1 << 30;

export interface TensorInfo {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  /** Byte range within the data region. */
  begin: number;
  end: number;
}

/** Bytes [begin, end) of the data region. */
type DataReader = (begin: number, end: number) => Uint8Array;

export class SafetensorsFile {
  readonly path: string;
  readonly metadata: Readonly<Record<string, string>>;
  private readonly infos: Map<string, TensorInfo>;
  private readonly read: DataReader;

  private constructor(path: string, infos: Map<string, TensorInfo>, metadata: Record<string, string>, read: DataReader) {
    this.path = path;
    this.infos = infos;
    this.metadata = metadata;
    this.read = read;
  }

  /**
   * Reads and validates the header; tensors are read when asked for. Throws ModelFormatError
   * naming the file and problem, also later if the file changes size in between.
   */
  static open(path: string): SafetensorsFile {
    const { size, hlen, header } = withFile(path, (fd, size) => {
      const prefix = readExactly(fd, 0, Math.min(8, size), path);
      const hlen = checkHeaderLength(prefix, size, path);
      return { size, hlen, header: decodeHeader(readExactly(fd, 8, hlen, path), path) };
    });
    const dataStart = 8 + hlen;
    const { infos, metadata } = parseHeader(header, size - dataStart, path);
    const read: DataReader = (begin, end) =>
      withFile(path, (fd, now) => {
        if (now !== size) throw new ModelFormatError(`file changed since it was opened (${now} bytes, was ${size})`, path);
        return readExactly(fd, dataStart + begin, end - begin, path);
      });
    return new SafetensorsFile(path, infos, metadata, read);
  }

  static fromBytes(bytes: Uint8Array, path: string): SafetensorsFile {
    const hlen = checkHeaderLength(bytes.subarray(0, 8), bytes.byteLength, path);
    const dataStart = 8 + hlen;
    const data = bytes.subarray(dataStart);
    const { infos, metadata } = parseHeader(decodeHeader(bytes.subarray(8, dataStart), path), data.byteLength, path);
    return new SafetensorsFile(path, infos, metadata, (begin, end) => data.subarray(begin, end));
  }

  names(): string[] {
    return [...this.infos.keys()];
  }

  has(name: string): boolean {
    return this.infos.has(name);
  }

  info(name: string): TensorInfo | undefined {
    return this.infos.get(name);
  }

  /**
   * The tensor as float32, checked against the expected shape, read on every call: F32 as a view
   * of the bytes read (from fromBytes: of its bytes), copied only if misaligned; F16/BF16 widened.
   */
  getTensor(name: string, expectedShape?: readonly number[]): Float32Array {
    const info = this.infos.get(name);
    if (info === undefined) throw new ModelFormatError(`tensor "${name}" is missing`, this.path);
    if (expectedShape !== undefined && !sameShape(info.shape, expectedShape)) {
      throw new ModelFormatError(
        `tensor "${name}" has shape [${info.shape.join(', ')}], expected [${expectedShape.join(', ')}]`,
        this.path,
      );
    }
    const bytes = this.read(info.begin, info.end);
    switch (info.dtype) {
      case 'F32': {
        const absolute = bytes.byteOffset;
        if (absolute % 4 === 0) return new Float32Array(bytes.buffer, absolute, bytes.byteLength / 4);
        const copy = new Float32Array(bytes.byteLength / 4);
        new Uint8Array(copy.buffer).set(bytes);
        return copy;
      }
      case 'F16':
        return f16BytesToF32(bytes);
      case 'BF16':
        return bf16BytesToF32(bytes);
      default:
        throw new ModelFormatError(`tensor "${name}" has integer dtype ${info.dtype}, expected a float tensor`, this.path);
    }
  }
}

function openForReading(path: string): number {
  try {
    return openRegularFileSync(path);
  } catch (err) {
    throw new ModelFormatError(`cannot open (${fsReason(err)})`, path, { cause: err });
  }
}

/** fn(fd, size) with the file open for reading; closed afterwards whatever happens. */
function withFile<T>(path: string, fn: (fd: number, size: number) => T): T {
  const fd = openForReading(path);
  try {
    return fn(fd, fstatSync(fd).size);
  } finally {
    closeSync(fd);
  }
}

/** `length` bytes at `position`, in a buffer of their own (byteOffset 0, so 4-aligned views). */
function readExactly(fd: number, position: number, length: number, path: string): Buffer {
  // allocUnsafeSlow: not from the shared pool and not zero-filled (every byte is read over).
  const buf = Buffer.allocUnsafeSlow(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buf, done, Math.min(READ_CHUNK, length - done), position + done);
    if (n === 0) throw new ModelFormatError(`file shrank while reading (${done} of ${length} bytes at offset ${position})`, path);
    done += n;
  }
  return buf;
}

/** Validates the 8-byte length prefix against the file size before anything is allocated for it. */
function checkHeaderLength(prefix: Uint8Array, fileSize: number, path: string): number {
  if (fileSize < 8 || prefix.byteLength < 8) {
    throw new ModelFormatError(`truncated safetensors: ${fileSize} bytes, need at least 8 for the header length`, path);
  }
  const headerLen = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  const available = BigInt(fileSize - 8);
  if (headerLen > available) {
    throw new ModelFormatError(
      `safetensors header length ${headerLen} exceeds the ${available} bytes after it (truncated or not a safetensors file)`,
      path,
    );
  }
  if (headerLen > BigInt(MAX_HEADER_BYTES) || headerLen < 2n) {
    throw new ModelFormatError(`safetensors header length ${headerLen} is implausible`, path);
  }
  return Number(headerLen);
}

function decodeHeader(bytes: Uint8Array, path: string): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (err) {
    throw new ModelFormatError(`safetensors header is not valid UTF-8 JSON: ${(err as Error).message}`, path, { cause: err });
  }
}

/** One scalar tensor (e.g. `logit_scale`): the header and that tensor's bytes only. undefined when absent. */
export function readSafetensorsScalar(path: string, name: string): number | undefined {
  const file = SafetensorsFile.open(path);
  const info = file.info(name);
  if (info === undefined) return undefined;
  if (info.shape.reduce((a, b) => a * b, 1) !== 1 || info.dtype === 'I64' || info.dtype === 'I32') {
    throw new ModelFormatError(`tensor "${name}" is not a float scalar (${info.dtype} [${info.shape.join(', ')}])`, path);
  }
  const value = file.getTensor(name)[0];
  if (value === undefined) throw new ModelFormatError(`tensor "${name}" is empty`, path);
  return value;
}

function parseHeader(
  header: unknown,
  dataBytes: number,
  path: string,
): { infos: Map<string, TensorInfo>; metadata: Record<string, string> } {
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new ModelFormatError('safetensors header must be a JSON object', path);
  }
  const infos = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = parseMetadata(entry, path);
      continue;
    }
    infos.set(name, parseEntry(name, entry, dataBytes, path));
  }
  checkNoOverlap([...infos.values()], path);
  return { infos, metadata };
}

function parseMetadata(entry: unknown, path: string): Record<string, string> {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    throw new ModelFormatError('safetensors __metadata__ must be an object of strings', path);
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(entry)) {
    if (typeof v !== 'string') throw new ModelFormatError(`safetensors __metadata__.${k} must be a string`, path);
    out[k] = v;
  }
  return out;
}

function parseEntry(name: string, entry: unknown, dataBytes: number, path: string): TensorInfo {
  const fail = (problem: string): never => {
    throw new ModelFormatError(`tensor "${name}": ${problem}`, path);
  };
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return fail('header entry is not an object');
  const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
  if (typeof dtype !== 'string' || !(dtype in ITEM_SIZE)) {
    return fail(`unsupported dtype ${JSON.stringify(dtype)} (supported: F32, F16, BF16; I64/I32 only for index buffers)`);
  }
  const dt = dtype as SafetensorsDType;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    return fail(`shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
  }
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
    offsets[0] > offsets[1]
  ) {
    return fail(`data_offsets ${JSON.stringify(offsets)} is not [begin, end] with 0 ≤ begin ≤ end`);
  }
  const [begin, end] = offsets as [number, number];
  if (end > dataBytes) return fail(`data_offsets [${begin}, ${end}] run past the ${dataBytes}-byte data region (truncated file?)`);
  const numel = (shape as number[]).reduce((a, b) => a * b, 1);
  const want = numel * ITEM_SIZE[dt];
  if (end - begin !== want) {
    return fail(`holds ${end - begin} bytes but shape [${shape.join(', ')}] of ${dt} needs ${want}`);
  }
  return { name, dtype: dt, shape: shape as number[], begin, end };
}

function checkNoOverlap(infos: TensorInfo[], path: string): void {
  const sorted = infos.filter((t) => t.end > t.begin).sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    const cur = sorted[i]!;
    if (cur.begin < prev.end) {
      throw new ModelFormatError(
        `tensors "${prev.name}" [${prev.begin}, ${prev.end}) and "${cur.name}" [${cur.begin}, ${cur.end}) overlap`,
        path,
      );
    }
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

// ---- float16 / bfloat16 widening ---------------------------------------------------------------

let f16Table: Float32Array | undefined;

/** All 65536 half values once (256 KiB), so widening is one table lookup per element. */
function halfTable(): Float32Array {
  if (f16Table !== undefined) return f16Table;
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    if (exp === 0) table[h] = sign * frac * 2 ** -24;
    else if (exp === 31) table[h] = frac === 0 ? sign * Infinity : NaN;
    else table[h] = sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  f16Table = table;
  return table;
}

function u16View(bytes: Uint8Array): Uint16Array {
  if (bytes.byteOffset % 2 === 0) return new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2);
  return new Uint16Array(bytes.slice().buffer);
}

function f16BytesToF32(bytes: Uint8Array): Float32Array {
  const src = u16View(bytes);
  const table = halfTable();
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = table[src[i]!]!;
  return out;
}

function bf16BytesToF32(bytes: Uint8Array): Float32Array {
  const src = u16View(bytes);
  const out = new Float32Array(src.length);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < src.length; i++) bits[i] = src[i]! << 16;
  return out;
}

/** float32 → IEEE half bits, round to nearest even (for writing F16 fixtures). */
export function f32ToF16Bits(x: Float32Array): Uint16Array {
  const out = new Uint16Array(x.length);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let i = 0; i < x.length; i++) {
    f[0] = x[i]!;
    const bits = u[0]!;
    const sign = (bits >>> 16) & 0x8000;
    const exp = (bits >>> 23) & 0xff;
    let mant = bits & 0x7fffff;
    if (exp === 0xff) {
      out[i] = sign | 0x7c00 | (mant !== 0 ? 0x200 : 0);
      continue;
    }
    const e = exp - 127 + 15;
    if (e >= 31) {
      out[i] = sign | 0x7c00;
    } else if (e <= 0) {
      if (e < -10) {
        out[i] = sign;
        continue;
      }
      mant |= 0x800000;
      const shift = 14 - e;
      const half = 1 << (shift - 1);
      const rem = mant & ((1 << shift) - 1);
      let m = mant >>> shift;
      if (rem > half || (rem === half && (m & 1) === 1)) m++;
      out[i] = sign | m;
    } else {
      const rem = mant & 0x1fff;
      let h = (e << 10) | (mant >>> 13);
      if (rem > 0x1000 || (rem === 0x1000 && (h & 1) === 1)) h++;
      out[i] = sign | h;
    }
  }
  return out;
}

/** float32 → bfloat16 bits, round to nearest even. */
export function f32ToBf16Bits(x: Float32Array): Uint16Array {
  const bits = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const out = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const b = bits[i]!;
    if ((b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff) !== 0) {
      out[i] = (b >>> 16) | 0x40;
      continue;
    }
    out[i] = (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
  }
  return out;
}

// ---- writer -------------------------------------------------------------------------------------

export interface TensorToWrite {
  dtype: FloatDType;
  shape: readonly number[];
  /** float32 values (converted to dtype), or for F16/BF16 the raw 16-bit patterns. May be produced lazily. */
  data: Float32Array | Uint16Array | (() => Float32Array | Uint16Array);
}

/**
 * Writes a safetensors file tensor by tensor (the header is computed from shapes first), so a
 * large random model never sits in memory twice.
 */
export function writeSafetensors(
  path: string,
  tensors: Record<string, TensorToWrite>,
  metadata: Record<string, string> = { format: 'pt' },
): void {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  const entries = Object.entries(tensors);
  for (const [name, t] of entries) {
    const bytes = t.shape.reduce((a, b) => a * b, 1) * ITEM_SIZE[t.dtype];
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  // Pad with spaces so the data region starts 8-byte aligned (what the reference writer does).
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const head = Buffer.alloc(8 + Buffer.byteLength(json));
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)), 0);
  head.write(json, 8, 'utf8');
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, head);
    for (const [name, t] of entries) {
      const raw = typeof t.data === 'function' ? t.data() : t.data;
      const encoded = encodeTensor(raw, t.dtype);
      const numel = t.shape.reduce((a, b) => a * b, 1);
      if (encoded.length !== numel) {
        throw new RangeError(`writeSafetensors: tensor "${name}" has ${encoded.length} values, shape needs ${numel}`);
      }
      writeSync(fd, new Uint8Array(encoded.buffer, encoded.byteOffset, encoded.byteLength));
    }
  } finally {
    closeSync(fd);
  }
}

function encodeTensor(raw: Float32Array | Uint16Array, dtype: FloatDType): Float32Array | Uint16Array {
  if (dtype === 'F32') {
    if (!(raw instanceof Float32Array)) throw new TypeError('writeSafetensors: F32 data must be a Float32Array');
    return raw;
  }
  if (raw instanceof Uint16Array) return raw;
  return dtype === 'F16' ? f32ToF16Bits(raw) : f32ToBf16Bits(raw);
}
