// Test fixture writers: PNGs assembled by hand, for what sharp cannot produce reliably (16-bit
// grayscale from raw ushort input) or cheaply (a huge image that is tiny on disk).
import { crc32, deflateSync } from 'node:zlib';

/** A grayscale PNG from its filtered scanlines (each row: filter byte 0, then samples). */
function grayPng(w: number, h: number, bitDepth: 8 | 16, rows: Buffer): Uint8Array {
  const chunk = (type: string, body: Buffer) => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(body.length, 0);
    head.write(type, 4, 'latin1');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), body])), 0);
    return Buffer.concat([head, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([bitDepth, 0, 0, 0, 0], 8); // grayscale, deflate, no filter, no interlace
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(rows)), chunk('IEND', Buffer.alloc(0))]);
}

/** A 16-bit grayscale PNG written by hand (sharp's raw ushort input is not reliable for this). */
export function gray16Png(samples: Uint16Array, w: number, h: number): Uint8Array {
  const rows = Buffer.alloc(h * (1 + 2 * w));
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) rows.writeUInt16BE(samples[y * w + x] as number, y * (1 + 2 * w) + 1 + 2 * x);
  }
  return grayPng(w, h, 16, rows);
}

/** A valid all-black 8-bit PNG: a few hundred KiB on disk for 100 megapixels (a pixel bomb). */
export function blackPng(w: number, h: number): Uint8Array {
  return grayPng(w, h, 8, Buffer.alloc(h * (1 + w)));
}
