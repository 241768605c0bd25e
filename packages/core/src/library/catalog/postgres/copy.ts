// PostgreSQL's binary COPY format, for the two bulk paths: embeddings into the catalog (import,
// catalog copy) and the whole embedding matrix out of it (search). Binary skips the text form
// of 512 floats per row both ways. halfvec's binary form is int16 dim, int16 0, then each half
// big-endian; bytea columns hold the little-endian f16 bytes as they are.
import type { VectorColumn } from './schema.js';

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');

export type CopyValue = string | number | Uint8Array | null;
/** Field kinds of a COPY row: text, int4, or raw bytes already in the column's binary form. */
export type CopyField = 'text' | 'int4' | 'raw';

/** One COPY FROM STDIN (FORMAT binary) payload holding `rows`. */
export function encodeCopyRows(fields: readonly CopyField[], rows: ReadonlyArray<readonly CopyValue[]>): Buffer {
  const parts: Buffer[] = [SIGNATURE, Buffer.alloc(8)];
  for (const row of rows) {
    const head = Buffer.alloc(2);
    head.writeInt16BE(fields.length);
    parts.push(head);
    fields.forEach((kind, i) => {
      const v = row[i] ?? null;
      const len = Buffer.alloc(4);
      if (v === null) {
        len.writeInt32BE(-1);
        parts.push(len);
        return;
      }
      let body: Buffer;
      if (kind === 'int4') {
        body = Buffer.alloc(4);
        body.writeInt32BE(v as number);
      } else if (kind === 'text') {
        body = Buffer.from(String(v), 'utf8');
      } else {
        const bytes = v as Uint8Array;
        body = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      }
      len.writeInt32BE(body.byteLength);
      parts.push(len, body);
    });
  }
  const trailer = Buffer.alloc(2);
  trailer.writeInt16BE(-1);
  parts.push(trailer);
  return Buffer.concat(parts);
}

/** Little-endian f16 bytes (the catalog's row format) → the column's binary COPY form. */
export function vectorToWire(f16: Uint8Array, column: VectorColumn): Uint8Array {
  if (column === 'bytea') return f16;
  const dim = f16.byteLength / 2;
  const out = Buffer.alloc(4 + f16.byteLength);
  out.writeInt16BE(dim, 0);
  for (let i = 0; i < dim; i++) {
    out[4 + 2 * i] = f16[2 * i + 1] as number;
    out[5 + 2 * i] = f16[2 * i] as number;
  }
  return out;
}

/** halfvec's binary form (halfvec_send) → little-endian f16 bytes. */
export function halfvecToF16(wire: Uint8Array, bytesPerRow: number): Uint8Array {
  if (wire.byteLength !== 4 + bytesPerRow) throw new RangeError(`halfvec has ${wire.byteLength - 4} value bytes, expected ${bytesPerRow}`);
  const out = Buffer.from(wire.subarray(4));
  out.swap16();
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/**
 * Parses a binary COPY TO STDOUT of (id int4, embedding) as chunks arrive, calling onRow with the
 * id and the embedding's little-endian f16 bytes (a view valid only during the call).
 */
export class CopyRowReader {
  private pending: Buffer = Buffer.alloc(0);
  private headerDone = false;
  private readonly scratch: Buffer;

  constructor(
    private readonly column: VectorColumn,
    private readonly bytesPerRow: number,
    private readonly onRow: (id: number, f16: Uint8Array) => void,
  ) {
    this.scratch = Buffer.alloc(bytesPerRow);
  }

  push(chunk: Buffer): void {
    const buf = this.pending.byteLength > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    let at = 0;
    if (!this.headerDone) {
      if (buf.byteLength < 19) {
        this.pending = buf;
        return;
      }
      const extension = buf.readInt32BE(15);
      at = 19 + extension;
      this.headerDone = true;
    }
    for (;;) {
      if (buf.byteLength - at < 2) break;
      const fields = buf.readInt16BE(at);
      if (fields === -1) {
        at += 2;
        break;
      }
      // id: 2 + 4 + 4 bytes; embedding: 4 + length.
      if (buf.byteLength - at < 2 + 8 + 4) break;
      const len = buf.readInt32BE(at + 10);
      const end = at + 14 + len;
      if (buf.byteLength < end) break;
      const id = buf.readInt32BE(at + 6);
      this.onRow(id, this.decode(buf.subarray(at + 14, end), id));
      at = end;
    }
    this.pending = at < buf.byteLength ? Buffer.from(buf.subarray(at)) : Buffer.alloc(0);
  }

  private decode(wire: Buffer, id: number): Uint8Array {
    const body = this.column === 'halfvec' ? wire.subarray(4) : wire;
    if (body.byteLength !== this.bytesPerRow) {
      throw new RangeError(`embedding of content ${id} has ${body.byteLength} bytes, expected ${this.bytesPerRow}`);
    }
    if (this.column === 'bytea') return body;
    // Big-endian halves to little-endian: Buffer.swap16 is native, ~20× a JS loop.
    this.scratch.set(body);
    this.scratch.swap16();
    return this.scratch;
  }
}
