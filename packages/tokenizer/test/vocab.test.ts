import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClipTokenizer, TokenizerError, loadVocabulary } from '../src/index.js';
import { TRAINING_TEXT, type TinyVocab, type TinyVocabFiles, trainTinyBpe, vocabObject, writeTinyVocab } from './helpers/tiny-bpe.js';

let vocab: TinyVocab;
let files: TinyVocabFiles;

beforeAll(() => {
  vocab = trainTinyBpe(TRAINING_TEXT, 40);
  files = writeTinyVocab(vocab);
});
afterAll(() => rmSync(files.dir, { recursive: true, force: true }));

const SAMPLES = [...TRAINING_TEXT, 'Crème brûlée, 42 °C', '<|endoftext|> x', 'zzz'];

describe('vocabulary loaders', () => {
  it('load the same vocabulary from every layout', async () => {
    const paths = [
      files.hfDir,
      join(files.hfDir, 'vocab.json'),
      files.tokenizerJson,
      files.tokenizerJsonPairs,
      join(files.dir, 'pairs'), // a directory holding only tokenizer.json
      files.openAiGz,
    ];
    const reference = await ClipTokenizer.fromPath(files.hfDir);
    const expected = SAMPLES.map((s) => reference.encode(s));
    for (const path of paths) {
      const tok = await ClipTokenizer.fromPath(path);
      expect(tok.vocabSize, path).toBe(vocab.tokens.length);
      expect(SAMPLES.map((s) => tok.encode(s)), path).toEqual(expected);
    }
  });

  it('read merges in file order as ranks and ids from vocab.json', async () => {
    const v = await loadVocabulary(files.hfDir);
    expect(v.merges).toEqual(vocab.merges);
    expect(Object.fromEntries(v.encoder)).toEqual(vocabObject(vocab));
  });

  it('number OpenAI merges after the 512 byte symbols, specials last', async () => {
    const v = await loadVocabulary(files.openAiGz);
    const [a, b] = vocab.merges[0]!;
    expect(v.encoder.get(a + b)).toBe(512);
    expect(v.encoder.get('<|endoftext|>')).toBe(512 + vocab.merges.length + 1);
  });
});

describe('vocabulary errors name the file and the problem', () => {
  const bad = (name: string): string => {
    const dir = join(files.dir, 'bad', name);
    mkdirSync(dir, { recursive: true });
    return dir;
  };

  async function expectError(path: string, code: string, message: RegExp): Promise<void> {
    const err = await loadVocabulary(path).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err, path).toBeInstanceOf(TokenizerError);
    expect((err as TokenizerError).code).toBe(code);
    expect((err as TokenizerError).message).toMatch(message);
  }

  it('missing path', async () => {
    const path = join(files.dir, 'nope');
    await expectError(path, 'VOCAB_NOT_FOUND', /nope: no such file/);
  });

  it('directory without vocabulary files', async () => {
    await expectError(bad('empty'), 'VOCAB_NOT_FOUND', /neither vocab\.json \+ merges\.txt nor tokenizer\.json/);
  });

  it('vocab.json without merges.txt beside it', async () => {
    const dir = bad('no-merges');
    writeFileSync(join(dir, 'vocab.json'), JSON.stringify(vocabObject(vocab)));
    await expectError(join(dir, 'vocab.json'), 'VOCAB_NOT_FOUND', /merges\.txt: no such file/);
  });

  it('invalid JSON', async () => {
    const dir = bad('json');
    writeFileSync(join(dir, 'tokenizer.json'), '{"model": ');
    await expectError(join(dir, 'tokenizer.json'), 'VOCAB_MALFORMED', /tokenizer\.json: invalid JSON/);
  });

  it('vocab that is not an object of ids', async () => {
    const dir = bad('vocab-array');
    writeFileSync(join(dir, 'vocab.json'), '[1,2]');
    writeFileSync(join(dir, 'merges.txt'), '#version: 0.2\n');
    await expectError(dir, 'VOCAB_MALFORMED', /vocab\.json: vocabulary must be a JSON object/);
    writeFileSync(join(dir, 'vocab.json'), '{"a": "one"}');
    await expectError(dir, 'VOCAB_MALFORMED', /token "a" has id "one"/);
  });

  it('malformed merge line, with its line number', async () => {
    const dir = bad('merge-line');
    writeFileSync(join(dir, 'vocab.json'), JSON.stringify(vocabObject(vocab)));
    writeFileSync(join(dir, 'merges.txt'), '#version: 0.2\nd o\nthree parts here\n');
    await expectError(dir, 'VOCAB_MALFORMED', /merges\.txt: line 3: expected a merge/);
  });

  it('merges.txt that is empty or only the #version header, and merge-less tokenizer.json / .gz', async () => {
    const dir = bad('no-merge-lines');
    writeFileSync(join(dir, 'vocab.json'), JSON.stringify(vocabObject(vocab)));
    for (const content of ['', '#version: 0.2\n', '#version: 0.2\r\n\n']) {
      writeFileSync(join(dir, 'merges.txt'), content);
      await expectError(dir, 'VOCAB_MALFORMED', /merges\.txt: has no merges \(empty or only the #version header\)/);
    }
    const path = join(bad('no-merges-json'), 'tokenizer.json');
    writeFileSync(path, JSON.stringify({ model: { type: 'BPE', vocab: vocabObject(vocab), merges: [] } }));
    await expectError(path, 'VOCAB_MALFORMED', /tokenizer\.json: has no merges/);
    const gz = join(bad('no-merges-gz'), 'bpe.txt.gz');
    writeFileSync(gz, gzipSync('"bpe_simple_vocab_16e6.txt#version: 0.2\n'));
    await expectError(gz, 'VOCAB_MALFORMED', /bpe\.txt\.gz: has no merges/);
  });

  it('tokenizer.json that is not BPE or has bad merges', async () => {
    const dir = bad('tj');
    const path = join(dir, 'tokenizer.json');
    writeFileSync(path, JSON.stringify({ model: { type: 'WordPiece', vocab: {} } }));
    await expectError(path, 'VOCAB_MALFORMED', /model\.type is "WordPiece"/);
    writeFileSync(path, JSON.stringify({ model: { type: 'BPE', vocab: vocabObject(vocab), merges: [42] } }));
    await expectError(path, 'VOCAB_MALFORMED', /model\.merges\[0\]/);
    writeFileSync(path, JSON.stringify({ nothing: true }));
    await expectError(path, 'VOCAB_MALFORMED', /missing "model"/);
  });

  it('vocabulary missing a special token, a byte symbol or a merge result', async () => {
    const dir = bad('incomplete');
    const path = join(dir, 'tokenizer.json');
    const mergeLines = vocab.merges.map(([a, b]) => `${a} ${b}`);
    const without = (token: string) => Object.fromEntries(Object.entries(vocabObject(vocab)).filter(([t]) => t !== token));
    writeFileSync(path, JSON.stringify({ model: { vocab: without('<|endoftext|>'), merges: mergeLines } }));
    await expectError(path, 'VOCAB_MALFORMED', /no <\|endoftext\|> token/);
    writeFileSync(path, JSON.stringify({ model: { vocab: without('q</w>'), merges: mergeLines } }));
    await expectError(path, 'VOCAB_MALFORMED', /lacks the byte symbol "q<\/w>"/);
    const [a, b] = vocab.merges[0]!;
    writeFileSync(path, JSON.stringify({ model: { vocab: without(a + b), merges: mergeLines } }));
    await expectError(path, 'VOCAB_MALFORMED', /merge 1 .* not in the vocabulary/);
    writeFileSync(path, JSON.stringify({ model: { vocab: { ...vocabObject(vocab), 'a b': 9999 }, merges: mergeLines } }));
    await expectError(path, 'VOCAB_MALFORMED', /token "a b" has " ", which is no byte symbol/);
  });

  it('names vocab.json for a token it lacks and merges.txt for a merge it cannot make', async () => {
    const dir = bad('hf-incomplete');
    const mergeLines = ['#version: 0.2', ...vocab.merges.map(([a, b]) => `${a} ${b}`)].join('\n');
    const without = (token: string) => Object.fromEntries(Object.entries(vocabObject(vocab)).filter(([t]) => t !== token));
    writeFileSync(join(dir, 'merges.txt'), mergeLines);
    writeFileSync(join(dir, 'vocab.json'), JSON.stringify(without('<|startoftext|>')));
    await expectError(dir, 'VOCAB_MALFORMED', /vocab\.json: vocabulary has no <\|startoftext\|> token/);
    const [a, b] = vocab.merges[0]!;
    writeFileSync(join(dir, 'vocab.json'), JSON.stringify(without(a + b)));
    await expectError(dir, 'VOCAB_MALFORMED', /merges\.txt: merge 1 .* not in the vocabulary/);
  });

  it('merges.txt that is a FIFO: refused at once, not waited on', async () => {
    const dir = bad('fifo');
    writeFileSync(join(dir, 'vocab.json'), JSON.stringify(vocabObject(vocab)));
    execFileSync('mkfifo', [join(dir, 'merges.txt')]);
    await expectError(join(dir, 'vocab.json'), 'VOCAB_NOT_FOUND', /merges\.txt: cannot read: not a regular file/);
  });

  it('a .gz file that is not gzip, or has a broken merge line', async () => {
    const dir = bad('gz');
    writeFileSync(join(dir, 'broken.txt.gz'), 'plain text');
    await expectError(join(dir, 'broken.txt.gz'), 'VOCAB_MALFORMED', /broken\.txt\.gz: not a gzip file/);
    writeFileSync(join(dir, 'lines.txt.gz'), gzipSync(Buffer.from('header\nd o\nlonely\n')));
    await expectError(join(dir, 'lines.txt.gz'), 'VOCAB_MALFORMED', /line 3: expected a merge/);
  });

  it('an unrecognised file type', async () => {
    const path = join(bad('other'), 'vocab.bin');
    writeFileSync(path, '');
    await expectError(path, 'VOCAB_MALFORMED', /unrecognised vocabulary file/);
  });
});
