// A small CLIP-style byte-level BPE vocabulary in the Hugging Face layout (vocab.json + merges.txt):
// the 256 byte symbols, the same with "</w>", synthetic merges of symbol pairs, and the two special
// tokens as the last ids, like CLIP's own vocabulary.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { END_OF_TEXT, START_OF_TEXT } from '@clipkit/tokenizer';

let alphabet: string[] | undefined;

/** GPT-2/CLIP bytes_to_unicode(): the printable stand-in for each byte, in vocabulary order. */
export function byteLevelAlphabet(): string[] {
  if (alphabet !== undefined) return alphabet;
  const bs: number[] = [];
  const add = (lo: number, hi: number) => {
    for (let c = lo; c <= hi; c++) bs.push(c);
  };
  add(0x21, 0x7e);
  add(0xa1, 0xac);
  add(0xae, 0xff);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  alphabet = cs.map((c) => String.fromCodePoint(c));
  return alphabet;
}

/** Merge pairs, lower-case letter pairs first so short English words tokenize into merged symbols. */
function* mergePairs(): Generator<[string, string]> {
  const symbols = byteLevelAlphabet();
  const letters = symbols.filter((s) => s >= 'a' && s <= 'z');
  const rest = symbols.filter((s) => !(s >= 'a' && s <= 'z'));
  const ordered = [...letters, ...rest];
  for (const a of ordered) for (const b of ordered) yield [a, `${b}</w>`];
  for (const a of ordered) for (const b of ordered) yield [a, b];
}

/** Writes vocab.json and merges.txt with exactly `vocabSize` ids (≥ 515: one merge at least). */
export function writeTinyVocab(dir: string, vocabSize: number): void {
  const symbols = byteLevelAlphabet();
  const vocab: Record<string, number> = {};
  let id = 0;
  for (const s of symbols) vocab[s] = id++;
  for (const s of symbols) vocab[`${s}</w>`] = id++;
  const merges: string[] = ['#version: 0.2'];
  const wanted = vocabSize - 2;
  for (const [a, b] of mergePairs()) {
    if (id >= wanted) break;
    merges.push(`${a} ${b}`);
    vocab[a + b] = id++;
  }
  vocab[START_OF_TEXT] = id++;
  vocab[END_OF_TEXT] = id++;
  writeFileSync(path.join(dir, 'vocab.json'), JSON.stringify(vocab));
  writeFileSync(path.join(dir, 'merges.txt'), merges.join('\n'));
}
