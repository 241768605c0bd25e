import { describe, expect, it } from 'vitest';
import { BytePairEncoder, byteEncode, byteSymbolsInVocabOrder, bytesToUnicode } from '../src/bpe.js';

/** simple_tokenizer.bpe, transcribed literally: the reference the fast encoder must match. */
function naiveBpe(word: string, ranks: Map<string, number>): string[] {
  let symbols = Array.from(word);
  symbols[symbols.length - 1] += '</w>';
  for (;;) {
    let best: [string, string] | undefined;
    let bestRank = Infinity;
    for (let i = 0; i + 1 < symbols.length; i++) {
      const r = ranks.get(symbols[i] + ' ' + symbols[i + 1]);
      if (r !== undefined && r < bestRank) {
        bestRank = r;
        best = [symbols[i]!, symbols[i + 1]!];
      }
    }
    if (best === undefined) return symbols;
    const out: string[] = [];
    for (let i = 0; i < symbols.length; i++) {
      if (i + 1 < symbols.length && symbols[i] === best[0] && symbols[i + 1] === best[1]) {
        out.push(best[0] + best[1]);
        i++;
      } else out.push(symbols[i]!);
    }
    symbols = out;
    if (symbols.length === 1) return symbols;
  }
}

function rankMap(merges: Array<[string, string]>): Map<string, number> {
  const m = new Map<string, number>();
  merges.forEach(([a, b], i) => m.set(a + ' ' + b, i));
  return m;
}

/** Deterministic xorshift so failures reproduce. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

describe('bytesToUnicode', () => {
  it('maps the 256 bytes to 256 distinct printable characters, printable Latin-1 to itself', () => {
    const table = bytesToUnicode();
    expect(new Set(table).size).toBe(256);
    expect(table[0x41]).toBe('A');
    expect(table[0xe9]).toBe('é');
    expect(table[0x20]).toBe('\u0120'); // space → Ġ, as in GPT-2/CLIP
    expect(table[0x00]).toBe('\u0100');
    expect(table[0xad]).toBe('\u0143'); // soft hyphen is the last non-printable byte
    for (const ch of table) expect(ch).toMatch(/^[^\s\p{Cc}]$/u);
  });

  it('lists printable bytes first in vocabulary order', () => {
    const order = byteSymbolsInVocabOrder();
    expect(order[0]).toBe('!');
    expect(order[187]).toBe('ÿ');
    expect(order[188]).toBe('\u0100');
    expect(new Set(order)).toEqual(new Set(bytesToUnicode()));
  });

  it('byte-encodes words through UTF-8', () => {
    expect(byteEncode('a b')).toBe('a\u0120b');
    expect(byteEncode('é')).toBe('\u00c3\u00a9');
    expect(byteEncode('\u0000')).toBe('\u0100');
  });
});

describe('BytePairEncoder', () => {
  it('merges overlapping occurrences left to right without reusing a symbol', () => {
    expect(new BytePairEncoder(rankMap([['a', 'a']])).encodeWord('aaa')).toEqual(['aa', 'a</w>']);
  });

  it('applies the lowest-ranked pair present, then looks again', () => {
    const merges: Array<[string, string]> = [['a', 'a'], ['aa', 'a</w>']];
    expect(new BytePairEncoder(rankMap(merges)).encodeWord('aaa')).toEqual(['aaa</w>']);
    // Round one turns a a a a</w> into aa a a</w>; neither remaining pair has a rank.
    expect(new BytePairEncoder(rankMap(merges)).encodeWord('aaaa')).toEqual(['aa', 'a', 'a</w>']);
  });

  it('lets pairs created in a round wait for the next round, even when they rank lower', () => {
    // "ab" + "a" ranks above "a" + "b", but only exists once "a b" has been merged everywhere.
    const merges: Array<[string, string]> = [['ab', 'a'], ['a', 'b'], ['ab', 'ab</w>']];
    const enc = new BytePairEncoder(rankMap(merges));
    // Python merges both "a b" first: ab ab a b</w>; only then "ab a" → ab aba b</w>.
    expect(enc.encodeWord('ababab')).toEqual(['ab', 'aba', 'b</w>']);
    expect(enc.encodeWord('ababab')).toEqual(naiveBpe('ababab', rankMap(merges)));
  });

  it('returns single characters with the end-of-word mark when nothing merges', () => {
    const enc = new BytePairEncoder(new Map());
    expect(enc.encodeWord('x')).toEqual(['x</w>']);
    expect(enc.encodeWord('xyz')).toEqual(['x', 'y', 'z</w>']);
    expect(enc.encodeWord('')).toEqual([]);
  });

  it('matches the literal algorithm on random words and random merge lists', () => {
    const next = rng(42);
    const alphabet = ['a', 'b', 'c', 'd'];
    for (let trial = 0; trial < 300; trial++) {
      // Random merges over symbols that can actually arise, including out-of-order ones.
      const symbols = [...alphabet, ...alphabet.map((c) => c + '</w>')];
      const merges: Array<[string, string]> = [];
      for (let m = 0; m < 12; m++) {
        const left = symbols[Math.floor(next() * symbols.length)]!;
        if (left.endsWith('</w>')) continue;
        const right = symbols[Math.floor(next() * symbols.length)]!;
        merges.push([left, right]);
        symbols.push(left + right);
      }
      const ranks = rankMap(merges);
      const enc = new BytePairEncoder(ranks);
      for (let w = 0; w < 10; w++) {
        const len = 1 + Math.floor(next() * 14);
        const word = Array.from({ length: len }, () => alphabet[Math.floor(next() * alphabet.length)]).join('');
        expect(enc.encodeWord(word), `${word} with ${JSON.stringify(merges)}`).toEqual(naiveBpe(word, ranks));
      }
    }
  });

  it('encodes a 200 000-character word like the literal algorithm (few rounds, so both are fast)', () => {
    const merges: Array<[string, string]> = [['a', 'a'], ['aa', 'aa'], ['aaaa', 'aaaa'], ['a', 'a</w>']];
    const word = 'a'.repeat(200_000);
    const out = new BytePairEncoder(rankMap(merges)).encodeWord(word);
    expect(out).toEqual(naiveBpe(word, rankMap(merges)));
    expect(out.join('')).toBe(word + '</w>');
  });
});
