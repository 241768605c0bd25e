import { describe, expect, it } from 'vitest';
import { pretokenize } from '../src/pretokenize.js';

describe("pretokenize (CLIP's word regex)", () => {
  it('splits letters, single digits and punctuation runs, dropping whitespace', () => {
    expect(pretokenize('a photo of 2024... (maybe)')).toEqual(['a', 'photo', 'of', '2', '0', '2', '4', '...', '(', 'maybe', ')']);
  });

  it('keeps special tokens whole and splits contractions', () => {
    expect(pretokenize("<|startoftext|>it's<|endoftext|>")).toEqual(['<|startoftext|>', 'it', "'s", '<|endoftext|>']);
    expect(pretokenize("they've we'll i'd")).toEqual(['they', "'ve", 'we', "'ll", 'i', "'d"]);
  });

  it('matches contractions case-insensitively, as re.IGNORECASE does', () => {
    expect(pretokenize("it'S")).toEqual(['it', "'S"]);
    expect(pretokenize('it\'\u017f')).toEqual(['it', "'\u017f"]); // long s folds to s
  });

  it('treats marks and symbols as punctuation and letters of any script as letters', () => {
    expect(pretokenize('x\u0301 猫の写真 😀!')).toEqual(['x', '\u0301', '猫の写真', '😀!']);
    expect(pretokenize('½ ٣')).toEqual(['½', '٣']);
  });

  it('uses Unicode White_Space: U+FEFF is punctuation, U+3000 separates', () => {
    expect(pretokenize('a\ufeffb')).toEqual(['a', '\ufeff', 'b']);
    expect(pretokenize('a\u3000b')).toEqual(['a', 'b']);
  });

  it('returns nothing for empty or blank text', () => {
    expect(pretokenize('')).toEqual([]);
    expect(pretokenize('   ')).toEqual([]);
  });
});
