// Single-byte code pages as ftfy uses them, including its "sloppy" variants: a sloppy
// windows-125x decodes the bytes its standard leaves undefined as Latin-1 does, and uses
// byte 0x1A for U+FFFD so that text already damaged by a lossy decode can be re-encoded.
import { CODEPAGE_HIGH_HALVES } from './tables/codepages.js';

export type CodepageName =
  | 'latin-1'
  | 'sloppy-windows-1252'
  | 'sloppy-windows-1251'
  | 'sloppy-windows-1250'
  | 'sloppy-windows-1253'
  | 'sloppy-windows-1254'
  | 'sloppy-windows-1257'
  | 'iso-8859-2'
  | 'macroman'
  | 'cp437';

/** ftfy's order of trial when it suspects text was UTF-8 decoded with a single-byte code page. */
export const MOJIBAKE_CODEPAGES: readonly CodepageName[] = [
  'latin-1',
  'sloppy-windows-1252',
  'sloppy-windows-1251',
  'sloppy-windows-1250',
  'sloppy-windows-1253',
  'sloppy-windows-1254',
  'sloppy-windows-1257',
  'iso-8859-2',
  'macroman',
  'cp437',
];

const REPLACEMENT = 0xfffd;
const SUBSTITUTE_BYTE = 0x1a;

export interface Codepage {
  /** The 256 code points that bytes 0x00..0xFF decode to. */
  readonly decodeTable: Uint32Array;
  /** Code point → byte, for every code point this code page can encode. */
  readonly encodeTable: ReadonlyMap<number, number>;
}

function highHalf(name: string): Uint32Array {
  const text = CODEPAGE_HIGH_HALVES[name];
  if (text === undefined || text.length !== 128) throw new Error(`code page table ${name} missing`);
  const out = new Uint32Array(128);
  for (let i = 0; i < 128; i++) out[i] = text.charCodeAt(i);
  return out;
}

function build(name: CodepageName): Codepage {
  const decodeTable = new Uint32Array(256);
  for (let b = 0; b < 128; b++) decodeTable[b] = b;
  if (name === 'latin-1') {
    for (let b = 128; b < 256; b++) decodeTable[b] = b;
  } else {
    const sloppy = name.startsWith('sloppy-');
    const high = highHalf(sloppy ? name.slice('sloppy-'.length) : name);
    for (let b = 128; b < 256; b++) {
      const cp = high[b - 128]!;
      decodeTable[b] = sloppy && cp === REPLACEMENT ? b : cp;
    }
    if (sloppy) decodeTable[SUBSTITUTE_BYTE] = REPLACEMENT;
  }
  const encodeTable = new Map<number, number>();
  for (let b = 0; b < 256; b++) encodeTable.set(decodeTable[b]!, b);
  return { decodeTable, encodeTable };
}

const cache = new Map<CodepageName, Codepage>();

export function codepage(name: CodepageName): Codepage {
  let cp = cache.get(name);
  if (cp === undefined) {
    cp = build(name);
    cache.set(name, cp);
  }
  return cp;
}

/** Encodes `text` in the code page, or returns undefined when some character has no byte. */
export function encodeCodepage(text: string, page: Codepage): Uint8Array | undefined {
  const out = new Uint8Array(text.length);
  let n = 0;
  for (const ch of text) {
    const b = page.encodeTable.get(ch.codePointAt(0)!);
    if (b === undefined) return undefined;
    out[n++] = b;
  }
  return out.subarray(0, n);
}

export function decodeCodepage(bytes: Uint8Array, page: Codepage): string {
  let out = '';
  for (const b of bytes) out += String.fromCodePoint(page.decodeTable[b]!);
  return out;
}
