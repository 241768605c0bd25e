// `clipkit tokenize` end to end: spawns the built CLI with a generated OpenAI-style vocabulary.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'bin', 'clipkit.js');

// Ids follow from the merges (OpenAI layout): 256 byte symbols, 256 with '</w>', then one id
// per merge from 512, then <|startoftext|> and <|endoftext|>.
const MERGES = ['d o', 'do g</w>', 'c a', 'ca t</w>'];
const DOG = 513;
const CAT = 515;
const A = 256 + ('a'.charCodeAt(0) - 0x21); // "a</w>": printable bytes are numbered from '!'
const SOT = 512 + MERGES.length;
const EOT = SOT + 1;

let dir: string;
let vocab: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'clipkit-cli-tokenize-'));
  vocab = path.join(dir, 'bpe_tiny.txt.gz');
  writeFileSync(vocab, gzipSync(Buffer.from(['"tiny"', ...MERGES].join('\n'))));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[], input: string) {
  return spawnSync(process.execPath, [cli, 'tokenize', ...args], { input, encoding: 'utf8' });
}

const row = (ids: number[], length: number): number[] => [...ids, ...new Array<number>(length - ids.length).fill(0)];

describe('clipkit tokenize', () => {
  it('writes one padded row of ids per JSON string line, skipping blank lines', () => {
    const r = run(['--vocab', vocab, '--context-length', '6'], '"a dog"\n\n"A CAT"\n"dog &amp; cat"\n');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as number[]);
    expect(lines).toEqual([
      row([SOT, A, DOG, EOT], 6),
      row([SOT, A, CAT, EOT], 6),
      row([SOT, DOG, 256 + ('&'.charCodeAt(0) - 0x21), CAT, EOT], 6),
    ]);
  });

  it('defaults to 77 columns and truncates keeping the end token', () => {
    const r = run(['--vocab', vocab], `${JSON.stringify('dog '.repeat(100))}\n`);
    expect(r.status).toBe(0);
    const ids = JSON.parse(r.stdout) as number[];
    expect(ids).toHaveLength(77);
    expect(ids[0]).toBe(SOT);
    expect(ids[1]).toBe(DOG);
    expect(ids[76]).toBe(EOT);
  });

  it('exits 2 naming the line on invalid JSON, after writing the rows before it', () => {
    const r = run(['--vocab', vocab], '"dog"\n"cat"\n{not json\n"never"\n');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/stdin line 3: invalid JSON/);
    expect(r.stdout.trimEnd().split('\n')).toHaveLength(2);
  });

  it('exits 2 when a line is JSON but not a string', () => {
    const r = run(['--vocab', vocab], '"dog"\n["dog"]\n');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/stdin line 2: expected a JSON string/);
  });

  it('with --no-truncate exits 2 naming the over-long line and its token count', () => {
    const r = run(['--vocab', vocab, '--context-length', '4', '--no-truncate'], '"a dog"\n"dog dog dog"\n');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/stdin line 2: text is 5 tokens long, more than the context length 4/);
    expect(JSON.parse(r.stdout)).toEqual([SOT, A, DOG, EOT]);
  });

  it('rejects a bad context length and a missing or malformed vocabulary', () => {
    const bad = run(['--vocab', vocab, '--context-length', '1'], '');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--context-length must be an integer from 2 to 4096, got "1"/);
    const noVocab = run([], '');
    expect(noVocab.status).toBe(2);
    expect(noVocab.stderr).toMatch(/required option '--vocab <path>' not specified/);
    const missing = run(['--vocab', path.join(dir, 'nope.txt.gz')], '');
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/nope\.txt\.gz: no such file/);
    const notGzip = path.join(dir, 'plain.txt.gz');
    writeFileSync(notGzip, 'not gzip');
    const malformed = run(['--vocab', notGzip], '');
    expect(malformed.status).toBe(1);
    expect(malformed.stderr).toMatch(/plain\.txt\.gz: not a gzip file/);
  });
});
