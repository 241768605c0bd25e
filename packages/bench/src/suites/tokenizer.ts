// Tokenizer throughput (tokens/s) with CLIP's real vocabulary on generated captions, at a few
// batch sizes, with a cold word cache (cleared before every pass) and a warm one. A second set
// of "messy" captions (HTML entities, mojibake, accents, emoji) exercises the ftfy path that
// plain ASCII skips. For scale: OpenAI's Python tokenizer does ≈300k tokens/s on this machine
// (shared/MACHINE-NOTES.md); it cannot run here, so it is not a row.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HubError, resolveModel } from '@clipkit/core';
import { ClipTokenizer } from '@clipkit/tokenizer';
import { measure } from '../harness.js';
import { SuiteSkipped, type BenchOptions, type BenchRow } from '../types.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
const referenceRoot = process.env['CLIPKIT_REFERENCE'] ?? path.resolve(repoRoot, '..', 'shared', 'reference');

const SUBJECTS = ['dog', 'cat', 'man', 'woman', 'child', 'bus', 'car', 'bird', 'horse', 'pizza', 'sailboat', 'train', 'airplane', 'bicycle', 'skateboarder', 'giraffe'];
const ADJECTIVES = ['red', 'small', 'old', 'happy', 'black and white', 'blurry', 'bright', 'vintage', 'wet', 'fluffy'];
const ACTIONS = ['running on', 'sitting on', 'standing near', 'riding along', 'looking at', 'playing with', 'eating next to', 'flying over'];
const PLACES = ['the beach', 'a bench in a park', 'a city street', 'a snowy mountain', 'the kitchen table', 'a grassy field', 'a busy market', 'the old harbour'];
const MESSY = ['caf&eacute;', 'CafÃ© crÃ¨me', 'Crème brûlée', '“quoted”', 'doesnâ€™t', '🐕🎉', 'ｆｕｌｌ width', 'naïve', '&lt;3', 'São Paulo', '日本の写真', '1½ cups'];

/** Seeded captions: the benchmark must not depend on Math.random. */
export function captions(n: number, seed: number, messy: boolean): string[] {
  let s = seed;
  const pick = <T>(xs: readonly T[]): T => {
    s = (Math.imul(s, 1103515245) + 12345) & 0x7fffffff;
    return xs[s % xs.length]!;
  };
  return Array.from({ length: n }, (_, i) => {
    const base = `A ${pick(ADJECTIVES)} ${pick(SUBJECTS)} ${pick(ACTIONS)} ${pick(PLACES)}`;
    const extra = i % 3 === 0 ? `, photographed in ${1990 + (i % 35)} at sunset.` : '.';
    return messy ? `${pick(MESSY)} ${base} ${pick(MESSY)}${extra}` : base + extra;
  });
}

function countTokens(rows: Int32Array): number {
  let n = 0;
  for (const id of rows) if (id !== 0) n++;
  return n;
}

/** CLIP's real vocabulary: the reference folder's copy, else a pulled ViT-B-32 in the model cache. */
export async function findVocabulary(): Promise<string> {
  const reference = path.join(referenceRoot, 'tokenizer');
  if (existsSync(path.join(reference, 'vocab.json'))) return reference;
  try {
    return await resolveModel('ViT-B-32', { offline: true });
  } catch (err) {
    if (!(err instanceof HubError)) throw err;
    throw new SuiteSkipped(
      `needs CLIP's vocabulary: no ${reference}/vocab.json (set CLIPKIT_REFERENCE) and no cached ViT-B-32 (clipkit pull ViT-B-32): ${err.message}`,
    );
  }
}

export async function benchTokenizer(opts: BenchOptions): Promise<BenchRow[]> {
  const tok = await ClipTokenizer.fromPath(await findVocabulary());
  const count = opts.tiny ? 100 : opts.quick ? 1000 : 5000;
  const repeats = opts.quick ? 3 : 7;
  const rows: BenchRow[] = [];
  for (const [label, texts] of [
    ['captions', captions(count, 7, false)],
    ['messy captions', captions(count, 11, true)],
  ] as const) {
    const tokens = countTokens(tok.tokenize(texts));
    // Let the JIT settle on every path first, so the first batch size measured is not penalised.
    for (let i = 0; i < 3; i++) {
      tok.clearCache();
      for (const t of texts) tok.tokenize(t);
    }
    for (const batch of [1, 32, 1024]) {
      const pass = (): void => {
        for (let i = 0; i < texts.length; i += batch) tok.tokenize(texts.slice(i, i + batch));
      };
      const warm = await measure(pass, { warmup: 1, repeats });
      const cold = await measure(
        () => {
          tok.clearCache();
          pass();
        },
        { warmup: 0, repeats },
      );
      const name = (cache: string) => `tokenize ${count} ${label}, batch ${batch}, ${cache} cache`;
      rows.push({ name: name('warm'), unit: 'tokens/s', value: tokens / warm, baseline: name('cold') });
      rows.push({ name: name('cold'), unit: 'tokens/s', value: tokens / cold, note: `${tokens} tokens incl. start/end` });
    }
  }
  // One hostile megabyte: must stay linear (the word cache does not help a single giant word).
  const megabyte = 'dog'.repeat(opts.tiny ? 35_000 : 350_000);
  const tMega = await measure(() => tok.encode(megabyte), { warmup: 0, repeats: opts.quick ? 1 : 3 });
  rows.push({ name: `encode one ${(megabyte.length / 1e6).toFixed(1)} MB word`, unit: 'ms', value: tMega * 1e3 });
  return rows;
}
