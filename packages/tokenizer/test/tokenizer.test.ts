import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClipTokenizer, TextTooLongError, TokenizerError, cleanText } from '../src/index.js';
import { TRAINING_TEXT, type TinyVocab, type TinyVocabFiles, trainTinyBpe, vocabObject, writeTinyVocab } from './helpers/tiny-bpe.js';

let vocab: TinyVocab;
let files: TinyVocabFiles;
let tok: ClipTokenizer;
let ids: Record<string, number>;

beforeAll(async () => {
  vocab = trainTinyBpe(TRAINING_TEXT, 40);
  files = writeTinyVocab(vocab);
  tok = await ClipTokenizer.fromPath(files.hfDir);
  ids = vocabObject(vocab);
});
afterAll(() => rmSync(files.dir, { recursive: true, force: true }));

const id = (token: string): number => {
  const v = ids[token];
  if (v === undefined) throw new Error(`fixture has no token ${token}`);
  return v;
};

describe('ClipTokenizer.encode', () => {
  it('encodes frequent training words as single tokens', () => {
    expect(tok.encode('a photo of a dog')).toEqual([id('a</w>'), id('photo</w>'), id('of</w>'), id('a</w>'), id('dog</w>')]);
  });

  it('falls back to byte symbols for unseen text', () => {
    expect(tok.encode('zq')).toEqual([id('z'), id('q</w>')]);
    // 'é' is two UTF-8 bytes, each its own symbol.
    expect(tok.encode('é')).toEqual([id('Ã'), id('©</w>')]);
  });

  it('cleans text first: case, whitespace, entities', () => {
    expect(tok.encode('  A   PHOTO &amp; Dog ')).toEqual(tok.encode('a photo & dog'));
  });

  it('maps special-token text to the special ids', () => {
    expect(tok.encode('<|startoftext|>dog<|endoftext|>')).toEqual([tok.startOfText, id('dog</w>'), tok.endOfText]);
    expect(tok.startOfText).toBe(vocab.tokens.length - 2);
    expect(tok.endOfText).toBe(vocab.tokens.length - 1);
  });

  it('splits contractions, letters, single digits and punctuation runs', () => {
    const pieces = tok.decode(tok.encode("it's 42 dogs!!")).split(' ').filter(Boolean);
    expect(pieces).toEqual(['it', "'s", '4', '2', 'dogs', '!!']);
  });

  it('is deterministic and never throws on hostile strings', () => {
    const hostile = ['\ud800', 'a\udc00b', '\u0000', 'a\u0000b', '\x01\x02\x1b[2J', '\u202e\u200b\ufeff', '&#0;&#x110000;', ''];
    for (const text of hostile) {
      const first = tok.encode(text);
      expect(tok.encode(text)).toEqual(first);
      for (const i of first) expect(i).toBeLessThan(tok.vocabSize);
    }
    expect(tok.encode('\ud800')).toEqual(tok.encode('\ufffd'));
    expect(tok.encode('\u0000')).toEqual([]);
  });

  it('handles a megabyte of hostile characters deterministically', () => {
    const hostile = '\u0000\ud800a\x1b[31m&amp;\u00e9\r\n\udc00\x85\ufeff<'.repeat(80_000);
    const first = tok.encode(hostile);
    expect(first.length).toBeGreaterThan(0);
    expect(tok.encode(hostile)).toEqual(first);
  }, 60_000); // a guard against hangs on a loaded machine, not a speed assertion

  it('handles a 1 MB string, one giant word included', () => {
    const words = 'a photo of a dog '.repeat(65_536);
    expect(tok.encode(words).length).toBe(5 * 65_536);
    const giant = 'dog'.repeat(350_000);
    const out = tok.encode(giant);
    expect(tok.decode(out)).toBe(giant + ' ');
  }, 60_000); // a guard against hangs on a loaded machine, not a speed assertion
});

describe('ClipTokenizer.decode', () => {
  it('round-trips encode up to cleaning and word spacing', () => {
    for (const text of [...TRAINING_TEXT, 'Crème brûlée 😀 #tbt', '1,000,000 cats!']) {
      expect(tok.decode(tok.encode(text)).replaceAll(' ', '')).toBe(cleanText(text).replaceAll(' ', ''));
    }
  });

  it('turns word ends into spaces and decodes special tokens literally', () => {
    expect(tok.decode([tok.startOfText, id('dog</w>'), tok.endOfText])).toBe('<|startoftext|>dog <|endoftext|>');
  });

  it('replaces a partial UTF-8 sequence with U+FFFD', () => {
    expect(tok.decode([id('Ã')])).toBe('\ufffd');
  });

  it('accepts bigint ids and rejects unknown ones with a typed error', () => {
    expect(tok.decode([BigInt(id('dog</w>'))])).toBe('dog ');
    expect(() => tok.decode([id('dog</w>'), 999_999])).toThrow(TokenizerError);
    expect(() => tok.decode([-1])).toThrow(/id -1 at position 0/);
  });
});

describe('ClipTokenizer.tokenize', () => {
  it('builds zero-padded [n, contextLength] rows with start and end markers', () => {
    const rows = tok.tokenize(['a dog', 'the cat sat'], { contextLength: 8 });
    expect(rows).toBeInstanceOf(Int32Array);
    expect(Array.from(rows)).toEqual([
      tok.startOfText, id('a</w>'), id('dog</w>'), tok.endOfText, 0, 0, 0, 0,
      tok.startOfText, ...tok.encode('the cat sat'), tok.endOfText, ...new Array(8 - 2 - tok.encode('the cat sat').length).fill(0),
    ]);
  });

  it('defaults to CLIP context length 77 and accepts a single string', () => {
    const row = tok.tokenize('a dog');
    expect(row.length).toBe(77);
    expect(row[0]).toBe(tok.startOfText);
    expect(row[3]).toBe(tok.endOfText);
  });

  it('truncates over-long texts keeping the end marker last', () => {
    const text = 'dog '.repeat(10);
    const row = Array.from(tok.tokenize([text], { contextLength: 6 }));
    expect(row).toEqual([tok.startOfText, id('dog</w>'), id('dog</w>'), id('dog</w>'), id('dog</w>'), tok.endOfText]);
  });

  it('fits a text of exactly contextLength tokens without truncation', () => {
    const row = Array.from(tok.tokenize(['dog dog dog dog'], { contextLength: 6, truncate: false }));
    expect(row).toEqual([tok.startOfText, id('dog</w>'), id('dog</w>'), id('dog</w>'), id('dog</w>'), tok.endOfText]);
  });

  it('with truncate: false throws naming the text index and token count', () => {
    let caught: unknown;
    try {
      tok.tokenize(['a dog', 'dog '.repeat(10)], { contextLength: 6, truncate: false });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(TextTooLongError);
    const err = caught as TextTooLongError;
    expect(err.code).toBe('TEXT_TOO_LONG');
    expect(err.index).toBe(1);
    expect(err.tokenCount).toBe(12);
    expect(err.message).toMatch(/text 1 is 12 tokens/);
  });

  it('gives the same rows as BigInt64 for ONNX', () => {
    const texts = ['a photo of a cat', 'two dogs'];
    const big = tok.tokenizeBigInt64(texts, { contextLength: 10 });
    expect(big).toBeInstanceOf(BigInt64Array);
    expect(Array.from(big, Number)).toEqual(Array.from(tok.tokenize(texts, { contextLength: 10 })));
  });

  it('rejects a context length that cannot hold the markers', () => {
    expect(() => tok.tokenize(['x'], { contextLength: 1 })).toThrow(TokenizerError);
    expect(() => tok.tokenize(['x'], { contextLength: 7.5 })).toThrow(/contextLength/);
  });

  it('returns an empty array for no texts', () => {
    expect(tok.tokenize([]).length).toBe(0);
  });
});
