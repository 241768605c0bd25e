// Byte-level pieces of ftfy's mojibake repair: strict UTF-8 (and the CESU-8 / Java variants
// ftfy also accepts), and byte rewrites applied before re-decoding.

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Strict UTF-8 decode; undefined when the bytes are not valid UTF-8. */
export function decodeUtf8Strict(bytes: Uint8Array): string | undefined {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return undefined;
  }
}

function isCesu8PairAt(b: Uint8Array, i: number): boolean {
  return (
    i + 5 < b.length &&
    b[i] === 0xed && b[i + 1]! >= 0xa0 && b[i + 1]! <= 0xaf && b[i + 2]! >= 0x80 && b[i + 2]! <= 0xbf &&
    b[i + 3] === 0xed && b[i + 4]! >= 0xb0 && b[i + 4]! <= 0xbf && b[i + 5]! >= 0x80 && b[i + 5]! <= 0xbf
  );
}

/** ftfy's "utf-8-variants": UTF-8 that also accepts Java's C0 80 for NUL and CESU-8's
 * surrogate pairs encoded as two three-byte sequences. Undefined when still invalid. */
export function decodeUtf8Variants(b: Uint8Array): string | undefined {
  let out = '';
  let start = 0;
  let i = 0;
  while (i < b.length) {
    if (b[i] === 0xc0 && b[i + 1] === 0x80) {
      const head = decodeUtf8Strict(b.subarray(start, i));
      if (head === undefined) return undefined;
      out += head + '\u0000';
      i += 2;
      start = i;
    } else if (b[i] === 0xed && isCesu8PairAt(b, i)) {
      const head = decodeUtf8Strict(b.subarray(start, i));
      if (head === undefined) return undefined;
      const cp = ((b[i + 1]! & 0x0f) << 16) + ((b[i + 2]! & 0x3f) << 10) + ((b[i + 4]! & 0x0f) << 6) + (b[i + 5]! & 0x3f) + 0x10000;
      out += String.fromCodePoint(cp);
      i += 6;
      start = i;
    } else {
      i++;
    }
  }
  const tail = decodeUtf8Strict(b.subarray(start));
  return tail === undefined ? undefined : out + tail;
}

// Byte regexes run on a "binary string" (one char per byte, as Latin-1 would decode it).
const toBinary = (b: Uint8Array): string => {
  let s = '';
  for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode(...b.subarray(i, i + 8192));
  return s;
};
const fromBinary = (s: string): Uint8Array => {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
};

// UTF-8 sequences that would be valid if a 0xA0 byte had not been turned into a space.
// Lead bytes are limited to those whose 0xA0 continuation gives a likely character.
const ALTERED_UTF8 = new RegExp(
  [
    '[\\xc2\\xc3\\xc5\\xce\\xd0\\xd9] ',
    '[\\xe2\\xe3] [\\x80-\\x84\\x86-\\x9f\\xa1-\\xbf]',
    '[\\xe0-\\xe3][\\x80-\\x84\\x86-\\x9f\\xa1-\\xbf] ',
    '\\xf0 [\\x80-\\xbf][\\x80-\\xbf]',
    '\\xf0[\\x80-\\xbf] [\\x80-\\xbf]',
    '\\xf0[\\x80-\\xbf][\\x80-\\xbf] ',
  ].join('|'),
  'g',
);
// "Ã " as a word is usually "à " that lost its 0xA0; Portuguese "às", "àquele"... excepted.
const A_GRAVE_WORD = /\xc3 (?! |quele|quela|quilo|s )/g;

export function hasAlteredUtf8(bytes: Uint8Array): boolean {
  ALTERED_UTF8.lastIndex = 0;
  return ALTERED_UTF8.test(toBinary(bytes));
}

/** ftfy's restore_byte_a0: put back 0xA0 bytes that a space replaced inside UTF-8 sequences. */
export function restoreByteA0(bytes: Uint8Array): Uint8Array {
  const s = toBinary(bytes)
    .replace(A_GRAVE_WORD, '\xc3\xa0 ')
    .replace(ALTERED_UTF8, (m) => m.replaceAll(' ', '\xa0'));
  return fromBinary(s);
}

// UTF-8 (and CESU-8) sequences some of whose bytes a lossy decode turned into U+FFFD, which
// the sloppy code pages encode as 0x1A; '?' may stand in for one byte.
const LOSSY_UTF8 = new RegExp(
  [
    '[\\xc2-\\xdf][\\x1a]',
    '[\\xc2-\\xc3][?]',
    '\\xed[\\xa0-\\xaf][\\x1a?]\\xed[\\xb0-\\xbf][\\x1a?\\x80-\\xbf]',
    '\\xed[\\xa0-\\xaf][\\x1a?\\x80-\\xbf]\\xed[\\xb0-\\xbf][\\x1a?]',
    '[\\xe0-\\xef][\\x1a?][\\x1a\\x80-\\xbf]',
    '[\\xe0-\\xef][\\x1a\\x80-\\xbf][\\x1a?]',
    '[\\xf0-\\xf4][\\x1a?][\\x1a\\x80-\\xbf][\\x1a\\x80-\\xbf]',
    '[\\xf0-\\xf4][\\x1a\\x80-\\xbf][\\x1a?][\\x1a\\x80-\\xbf]',
    '[\\xf0-\\xf4][\\x1a\\x80-\\xbf][\\x1a\\x80-\\xbf][\\x1a?]',
    '\\x1a',
  ].join('|'),
  'g',
);

/** ftfy's replace_lossy_sequences: such damaged sequences become the UTF-8 for U+FFFD. */
export function replaceLossySequences(bytes: Uint8Array): Uint8Array {
  return fromBinary(toBinary(bytes).replace(LOSSY_UTF8, '\xef\xbf\xbd'));
}
