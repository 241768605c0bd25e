// ftfy 6.3's fix_encoding: detect text that was UTF-8 decoded with the wrong single-byte code
// page ("mojibake") and re-decode it, one layer per step until nothing changes.
import {
  type CodepageName,
  MOJIBAKE_CODEPAGES,
  codepage,
  decodeCodepage,
  encodeCodepage,
} from '../codepages.js';
import { isBad } from './badness.js';
import {
  decodeUtf8Strict,
  decodeUtf8Variants,
  hasAlteredUtf8,
  replaceLossySequences,
  restoreByteA0,
} from './utf8.js';

// The code pages whose bytes make up UTF-8 clue classes, as ftfy's tables were drawn from.
const CLUE_CODEPAGES: readonly CodepageName[] = [
  'latin-1',
  'sloppy-windows-1250',
  'sloppy-windows-1251',
  'sloppy-windows-1252',
  'sloppy-windows-1253',
  'sloppy-windows-1254',
  'sloppy-windows-1257',
];

function charsForBytes(bytes: number[]): Set<string> {
  const out = new Set<string>();
  for (const name of CLUE_CODEPAGES) {
    const table = codepage(name).decodeTable;
    for (const b of bytes) {
      const cp = table[b]!;
      if (cp !== 0xfffd) out.add(String.fromCodePoint(cp));
    }
  }
  return out;
}

const range = (lo: number, hi: number): number[] => Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
const escapeClass = (chars: Iterable<string>): string =>
  Array.from(chars, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0')).join('');

// Punctuation that also stands for itself next to mojibake, so it does not block a match.
const NOT_STRICT = new Set(' \u2013\u2014\u2015\u2018\u2019\u201a\u201c\u201d\u201e\u2022\u2026');

function buildUtf8Detector(): RegExp {
  const first2 = escapeClass(charsForBytes(range(0xc2, 0xdf)));
  const first3 = escapeClass(charsForBytes(range(0xe0, 0xef)));
  // Only F0 and F3 lead to assigned four-byte characters worth repairing.
  const first4 = escapeClass(charsForBytes([0xf0, 0xf3]));
  const continuationSet = charsForBytes(range(0x80, 0xbf));
  continuationSet.add(' '); // a space may stand for a lost U+A0
  const continuation = escapeClass(continuationSet);
  const strict = escapeClass([...continuationSet].filter((c) => !NOT_STRICT.has(c)));
  return new RegExp(
    `(?<![${strict}])(?:[${first2}][${continuation}]|[${first3}][${continuation}]{2}|[${first4}][${continuation}]{3})+`,
    'g',
  );
}

const UTF8_DETECTOR = buildUtf8Detector();
const C1_CONTROL = /[\x80-\x9f]/g;
const NON_ASCII = /[^\x00-\x7f]/;

const windows1252 = codepage('sloppy-windows-1252');
const latin1 = codepage('latin-1');

/** ftfy's fix_c1_controls: C1 controls read as Windows-1252, as browsers do. */
export function fixC1Controls(text: string): string {
  return text.replace(C1_CONTROL, (c) => String.fromCodePoint(windows1252.decodeTable[c.charCodeAt(0)]!));
}

/** Strict Windows-1252 (no undefined bytes), as Python's codec is. */
function latin1AsStrictWindows1252(text: string): string | undefined {
  const bytes = encodeCodepage(text, latin1);
  if (bytes === undefined) return undefined;
  for (const b of bytes) if (b === 0x81 || b === 0x8d || b === 0x8f || b === 0x90 || b === 0x9d) return undefined;
  return decodeCodepage(bytes, windows1252);
}

function decodeInconsistentUtf8(text: string): string {
  return text.replace(UTF8_DETECTOR, (sub) => (sub.length < text.length && isBad(sub) ? fixEncoding(sub) : sub));
}

function fixEncodingOneStep(text: string): string {
  if (text.length === 0 || !NON_ASCII.test(text) || !isBad(text)) return text;

  let latin1Possible = false;
  for (const name of MOJIBAKE_CODEPAGES) {
    let bytes = encodeCodepage(text, codepage(name));
    if (bytes === undefined) continue;
    if (name === 'latin-1') latin1Possible = true;
    // The 0xA0 repair would misread MacRoman's en dash followed by a space.
    if (name !== 'macroman' && hasAlteredUtf8(bytes)) bytes = restoreByteA0(bytes);
    if (name.startsWith('sloppy-')) bytes = replaceLossySequences(bytes);
    const fixed = bytes.includes(0xed) || bytes.includes(0xc0) ? decodeUtf8Variants(bytes) : decodeUtf8Strict(bytes);
    if (fixed !== undefined) return fixed;
  }

  UTF8_DETECTOR.lastIndex = 0;
  if (UTF8_DETECTOR.test(text)) {
    const fixed = decodeInconsistentUtf8(text);
    if (fixed !== text) return fixed;
  }

  // Latin-1 text with C1 controls was most likely meant as Windows-1252.
  if (latin1Possible) {
    const fixed = latin1AsStrictWindows1252(text);
    if (fixed !== undefined && fixed !== text) return fixed;
  }

  C1_CONTROL.lastIndex = 0;
  if (C1_CONTROL.test(text)) return fixC1Controls(text);
  return text;
}

/** ftfy's fix_encoding: repeat single repair steps until the text stops changing. */
export function fixEncoding(text: string): string {
  for (;;) {
    const next = fixEncodingOneStep(text);
    if (next === text) return text;
    text = next;
  }
}
