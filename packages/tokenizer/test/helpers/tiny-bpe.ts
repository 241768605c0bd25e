// A tiny BPE trainer for self-contained tests: learns merges from a few sentences the way
// CLIP's vocabulary was built (byte symbols, '</w>' word ends, most frequent pair first) and
// writes the result in every layout the loaders accept.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { byteEncode, byteSymbolsInVocabOrder } from '../../src/bpe.js';
import { cleanText } from '../../src/normalize.js';
import { pretokenize } from '../../src/pretokenize.js';

export const TRAINING_TEXT = [
  'a photo of a dog',
  'a photo of a cat',
  'a photo of the dog on the beach',
  'the cat sat on the mat',
  'two dogs and a cat',
  "it's a photograph of a small dog",
  'the dog, the cat and the photo',
];

export interface TinyVocab {
  merges: Array<[string, string]>;
  /** Tokens in id order: byte symbols, the same with '</w>', merges, then the two specials. */
  tokens: string[];
}

export function trainTinyBpe(sentences: readonly string[], mergeCount: number): TinyVocab {
  const words = new Map<string, number>();
  for (const s of sentences) {
    for (const w of pretokenize(cleanText(s))) {
      const encoded = byteEncode(w);
      words.set(encoded, (words.get(encoded) ?? 0) + 1);
    }
  }
  const segmented = [...words].map(([w, count]) => {
    const chars = Array.from(w);
    chars[chars.length - 1] += '</w>';
    return { symbols: chars, count };
  });
  const merges: Array<[string, string]> = [];
  for (let m = 0; m < mergeCount; m++) {
    const counts = new Map<string, number>();
    for (const { symbols, count } of segmented) {
      for (let i = 0; i + 1 < symbols.length; i++) {
        const key = symbols[i] + ' ' + symbols[i + 1];
        counts.set(key, (counts.get(key) ?? 0) + count);
      }
    }
    // Most frequent pair; ties go to the lexicographically smallest, for determinism.
    let best: string | undefined;
    for (const [key, c] of counts) {
      if (best === undefined || c > counts.get(best)! || (c === counts.get(best)! && key < best)) best = key;
    }
    if (best === undefined) break;
    const [a, b] = best.split(' ') as [string, string];
    merges.push([a, b]);
    for (const word of segmented) {
      const out: string[] = [];
      for (let i = 0; i < word.symbols.length; i++) {
        if (i + 1 < word.symbols.length && word.symbols[i] === a && word.symbols[i + 1] === b) {
          out.push(a + b);
          i++;
        } else out.push(word.symbols[i]!);
      }
      word.symbols = out;
    }
  }
  const base = byteSymbolsInVocabOrder();
  const tokens = [...base, ...base.map((c) => c + '</w>'), ...merges.map(([a, b]) => a + b), '<|startoftext|>', '<|endoftext|>'];
  return { merges, tokens };
}

export function vocabObject(v: TinyVocab): Record<string, number> {
  const out: Record<string, number> = {};
  v.tokens.forEach((t, id) => (out[t] = id));
  return out;
}

export interface TinyVocabFiles {
  dir: string;
  /** Directory with vocab.json + merges.txt (Hugging Face layout). */
  hfDir: string;
  /** tokenizer.json with merges as "a b" strings. */
  tokenizerJson: string;
  /** tokenizer.json with merges as [a, b] pairs (newer tokenizers). */
  tokenizerJsonPairs: string;
  /** OpenAI-style gzip merges file. */
  openAiGz: string;
}

export function writeTinyVocab(v: TinyVocab): TinyVocabFiles {
  const dir = mkdtempSync(join(tmpdir(), 'clipkit-tok-'));
  const hfDir = join(dir, 'hf');
  const vocab = vocabObject(v);
  const mergeLines = v.merges.map(([a, b]) => `${a} ${b}`);
  mkdirSync(hfDir);
  writeFileSync(join(hfDir, 'vocab.json'), JSON.stringify(vocab));
  writeFileSync(join(hfDir, 'merges.txt'), ['#version: 0.2', ...mergeLines].join('\n'));
  const tokenizerJson = join(dir, 'tokenizer.json');
  writeFileSync(tokenizerJson, JSON.stringify({ model: { type: 'BPE', vocab, merges: mergeLines } }));
  const tokenizerJsonPairs = join(dir, 'pairs', 'tokenizer.json');
  mkdirSync(join(dir, 'pairs'));
  writeFileSync(tokenizerJsonPairs, JSON.stringify({ model: { type: 'BPE', vocab, merges: v.merges } }));
  const openAiGz = join(dir, 'bpe_tiny.txt.gz');
  writeFileSync(openAiGz, gzipSync(Buffer.from(['"bpe_simple_vocab_tiny"', ...mergeLines, ''].join('\n'))));
  return { dir, hfDir, tokenizerJson, tokenizerJsonPairs, openAiGz };
}
