// Vocabulary loaders. Three layouts hold the same CLIP BPE vocabulary:
//   - a Hugging Face model directory with vocab.json + merges.txt (or tokenizer.json),
//   - a tokenizer.json file ({ model: { type: 'BPE', vocab, merges } }),
//   - OpenAI's bpe_simple_vocab_16e6.txt.gz (merges only; ids follow from their order).
import { constants } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { byteSymbolsInVocabOrder, bytesToUnicode } from './bpe.js';
import { TokenizerError } from './errors.js';

export const START_OF_TEXT = '<|startoftext|>';
export const END_OF_TEXT = '<|endoftext|>';
const END_OF_WORD = '</w>';
/** simple_tokenizer reads merges lines[1 : 49152-256-2+1] of the OpenAI file. */
const OPENAI_MERGE_COUNT = 49152 - 256 - 2;

export interface Vocabulary {
  /** Token string → id. */
  readonly encoder: ReadonlyMap<string, number>;
  /** Merge rules, highest priority first. */
  readonly merges: ReadonlyArray<readonly [string, string]>;
  /** The file the vocabulary came from (for messages). */
  readonly source: string;
}

/** The file's bytes; opened O_NONBLOCK and refused unless regular, so a FIFO cannot block the load. */
async function readOrThrow(path: string): Promise<Buffer> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
    if (!(await fh.stat()).isFile()) throw new TokenizerError('VOCAB_NOT_FOUND', 'cannot read: not a regular file', path);
    return await fh.readFile();
  } catch (err) {
    if (err instanceof TokenizerError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new TokenizerError('VOCAB_NOT_FOUND', 'no such file', path, { cause: err });
    throw new TokenizerError('VOCAB_NOT_FOUND', `cannot read: ${(err as Error).message}`, path, { cause: err });
  } finally {
    await fh?.close();
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

const malformed = (path: string, problem: string, cause?: unknown): TokenizerError =>
  new TokenizerError('VOCAB_MALFORMED', problem, path, cause === undefined ? undefined : { cause });

function parseJson(path: string, bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw malformed(path, `invalid JSON (${(err as Error).message})`, err);
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function parseVocabObject(path: string, value: unknown): Map<string, number> {
  if (!isRecord(value)) throw malformed(path, 'vocabulary must be a JSON object of token → id');
  const encoder = new Map<string, number>();
  for (const [token, id] of Object.entries(value)) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
      throw malformed(path, `token ${JSON.stringify(token)} has id ${JSON.stringify(id)}, not a non-negative integer`);
    }
    encoder.set(token, id);
  }
  return encoder;
}

function parseMergeLine(path: string, line: string, lineNumber: number): [string, string] {
  const parts = line.split(' ');
  if (parts.length !== 2 || parts[0] === '' || parts[1] === '') {
    throw malformed(path, `line ${lineNumber}: expected a merge "left right", got ${JSON.stringify(line.slice(0, 80))}`);
  }
  return [parts[0]!, parts[1]!];
}

function parseMergesTxt(path: string, text: string): Array<[string, string]> {
  const lines = text.split('\n');
  const merges: Array<[string, string]> = [];
  lines.forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (line === '' || (i === 0 && line.startsWith('#version'))) return;
    merges.push(parseMergeLine(path, line, i + 1));
  });
  return merges;
}

function parseTokenizerJson(path: string, value: unknown): { encoder: Map<string, number>; merges: Array<[string, string]> } {
  if (!isRecord(value) || !isRecord(value['model'])) throw malformed(path, 'missing "model" object');
  const model = value['model'];
  if (model['type'] !== undefined && model['type'] !== 'BPE') {
    throw malformed(path, `model.type is ${JSON.stringify(model['type'])}, expected "BPE"`);
  }
  const encoder = parseVocabObject(path, model['vocab']);
  const rawMerges = model['merges'];
  if (!Array.isArray(rawMerges)) throw malformed(path, 'model.merges must be an array');
  const merges = rawMerges.map((m: unknown, i): [string, string] => {
    if (typeof m === 'string') return parseMergeLine(path, m, i + 1);
    if (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string') return [m[0], m[1]];
    throw malformed(path, `model.merges[${i}] must be "left right" or ["left", "right"]`);
  });
  const added = value['added_tokens'];
  if (Array.isArray(added)) {
    for (const t of added) {
      if (isRecord(t) && typeof t['content'] === 'string' && typeof t['id'] === 'number' && !encoder.has(t['content'])) {
        encoder.set(t['content'], t['id']);
      }
    }
  }
  return { encoder, merges };
}

function parseOpenAiGz(path: string, compressed: Buffer): { encoder: Map<string, number>; merges: Array<[string, string]> } {
  let text: string;
  try {
    text = gunzipSync(compressed).toString('utf8');
  } catch (err) {
    throw malformed(path, `not a gzip file (${(err as Error).message})`, err);
  }
  const lines = text.split('\n').slice(1, OPENAI_MERGE_COUNT + 1);
  // A short file may end with a newline; Python would keep that empty line, but it carries no merge.
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const merges = lines.map((line, i): [string, string] => {
    const parts = line.trim().split(/\s+/);
    if (parts.length !== 2) throw malformed(path, `line ${i + 2}: expected a merge "left right", got ${JSON.stringify(line.slice(0, 80))}`);
    return [parts[0]!, parts[1]!];
  });
  const base = byteSymbolsInVocabOrder();
  const tokens = [...base, ...base.map((c) => c + END_OF_WORD), ...merges.map(([a, b]) => a + b), START_OF_TEXT, END_OF_TEXT];
  const encoder = new Map<string, number>();
  tokens.forEach((t, id) => encoder.set(t, id));
  return { encoder, merges };
}

/**
 * Checks the invariants encode/decode rely on, so they can never meet an unknown symbol. A fault
 * in the tokens is reported against vocabPath, a merge that makes an unknown token against
 * mergesPath (the same file for tokenizer.json and OpenAI's .gz).
 */
function validate(vocabPath: string, mergesPath: string, encoder: Map<string, number>, merges: ReadonlyArray<readonly [string, string]>): void {
  const path = vocabPath;
  for (const special of [START_OF_TEXT, END_OF_TEXT]) {
    if (!encoder.has(special)) throw malformed(path, `vocabulary has no ${special} token`);
  }
  for (const ch of bytesToUnicode()) {
    for (const symbol of [ch, ch + END_OF_WORD]) {
      if (!encoder.has(symbol)) {
        throw malformed(path, `vocabulary lacks the byte symbol ${JSON.stringify(symbol)}; every byte must be encodable`);
      }
    }
  }
  const byteSymbols = new Set(bytesToUnicode());
  for (const token of encoder.keys()) {
    if (token === START_OF_TEXT || token === END_OF_TEXT) continue;
    for (const ch of token) {
      if (!byteSymbols.has(ch)) throw malformed(path, `token ${JSON.stringify(token)} has ${JSON.stringify(ch)}, which is no byte symbol`);
    }
  }
  // Without merges every word comes out as single bytes: a truncated or placeholder file, never
  // CLIP's vocabulary, and the embeddings would be silently meaningless.
  if (merges.length === 0) throw malformed(mergesPath, 'has no merges (empty or only the #version header); every text would be tokenized to single bytes');
  for (const [i, [a, b]] of merges.entries()) {
    if (!encoder.has(a + b)) throw malformed(mergesPath, `merge ${i + 1} ("${a} ${b}") makes ${JSON.stringify(a + b)}, which is not in the vocabulary`);
  }
}

async function loadHfFiles(vocabPath: string, mergesPath: string): Promise<Vocabulary> {
  const encoder = parseVocabObject(vocabPath, parseJson(vocabPath, await readOrThrow(vocabPath)));
  const merges = parseMergesTxt(mergesPath, (await readOrThrow(mergesPath)).toString('utf8'));
  validate(vocabPath, mergesPath, encoder, merges);
  return { encoder, merges, source: vocabPath };
}

async function loadTokenizerJson(path: string): Promise<Vocabulary> {
  const { encoder, merges } = parseTokenizerJson(path, parseJson(path, await readOrThrow(path)));
  validate(path, path, encoder, merges);
  return { encoder, merges, source: path };
}

async function loadOpenAiGz(path: string): Promise<Vocabulary> {
  const { encoder, merges } = parseOpenAiGz(path, await readOrThrow(path));
  validate(path, path, encoder, merges);
  return { encoder, merges, source: path };
}

/**
 * Loads a vocabulary from a model directory (vocab.json + merges.txt, else tokenizer.json),
 * a tokenizer.json / vocab.json file, or OpenAI's .txt.gz merges file.
 */
export async function loadVocabulary(path: string): Promise<Vocabulary> {
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    throw new TokenizerError('VOCAB_NOT_FOUND', 'no such file or directory', path, { cause: err });
  }
  if (info.isDirectory()) {
    const vocabJson = join(path, 'vocab.json');
    const mergesTxt = join(path, 'merges.txt');
    const tokenizerJson = join(path, 'tokenizer.json');
    if ((await isFile(vocabJson)) && (await isFile(mergesTxt))) return loadHfFiles(vocabJson, mergesTxt);
    if (await isFile(tokenizerJson)) return loadTokenizerJson(tokenizerJson);
    throw new TokenizerError('VOCAB_NOT_FOUND', 'directory has neither vocab.json + merges.txt nor tokenizer.json', path);
  }
  if (path.endsWith('.gz')) return loadOpenAiGz(path);
  if (path.endsWith('vocab.json')) {
    const dir = join(path, '..');
    return loadHfFiles(path, join(dir, 'merges.txt'));
  }
  if (path.endsWith('.json')) return loadTokenizerJson(path);
  throw new TokenizerError(
    'VOCAB_MALFORMED',
    'unrecognised vocabulary file: expected a model directory, tokenizer.json, vocab.json or a .txt.gz merges file',
    path,
  );
}
