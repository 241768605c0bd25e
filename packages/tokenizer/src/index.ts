// @clipkit/tokenizer: OpenAI CLIP's text tokenizer (simple_tokenizer.py + clip.tokenize),
// bit-exact, in TypeScript with no dependencies beyond Node.

export interface TokenizeOptions {
  /** Row length, start and end markers included. Default 77, CLIP's context. */
  contextLength?: number;
  /** Cut over-long texts to the context (last id forced to end-of-text) instead of throwing. Default true. */
  truncate?: boolean;
}

export { TokenizerError, TextTooLongError, type TokenizerErrorCode } from './errors.js';
export { cleanText } from './normalize.js';
export { pretokenize } from './pretokenize.js';
export { loadVocabulary, START_OF_TEXT, END_OF_TEXT, type Vocabulary } from './vocab.js';

import { BytePairEncoder, byteEncode, bytesToUnicode } from './bpe.js';
import { TextTooLongError, TokenizerError } from './errors.js';
import { cleanText } from './normalize.js';
import { pretokenize } from './pretokenize.js';
import { END_OF_TEXT, START_OF_TEXT, type Vocabulary, loadVocabulary } from './vocab.js';

/** Words remembered between calls; past this the cache starts afresh (memory stays bounded). */
const WORD_CACHE_LIMIT = 65_536;
/** Longer words are rare and would make the cache's memory unbounded: they are not cached. */
const WORD_CACHE_MAX_LENGTH = 256;
const DEFAULT_CONTEXT_LENGTH = 77;

export class ClipTokenizer {
  readonly startOfText: number;
  readonly endOfText: number;
  readonly vocabSize: number;
  private readonly encoder: ReadonlyMap<string, number>;
  private readonly decoder: Map<number, string>;
  private readonly bpe: BytePairEncoder;
  private readonly byteDecoder: Map<string, number>;
  private readonly wordCache = new Map<string, readonly number[]>();

  /** Loads a model directory, tokenizer.json, vocab.json (+ merges.txt beside it) or OpenAI's .txt.gz. */
  static async fromPath(path: string): Promise<ClipTokenizer> {
    return new ClipTokenizer(await loadVocabulary(path));
  }

  constructor(vocabulary: Vocabulary) {
    this.encoder = vocabulary.encoder;
    this.decoder = new Map();
    for (const [token, id] of vocabulary.encoder) this.decoder.set(id, token);
    this.vocabSize = this.decoder.size;
    this.startOfText = vocabulary.encoder.get(START_OF_TEXT)!;
    this.endOfText = vocabulary.encoder.get(END_OF_TEXT)!;
    const ranks = new Map<string, number>();
    vocabulary.merges.forEach(([a, b], rank) => {
      const key = a + ' ' + b;
      if (!ranks.has(key)) ranks.set(key, rank);
    });
    this.bpe = new BytePairEncoder(ranks);
    this.byteDecoder = new Map(bytesToUnicode().map((ch, b) => [ch, b]));
  }

  /** Token ids of `text`, without start/end markers. Never throws for any string. */
  encode(text: string): number[] {
    const ids: number[] = [];
    for (const word of pretokenize(cleanText(String(text)))) {
      for (const id of this.encodeWord(word)) ids.push(id);
    }
    return ids;
  }

  /** Forgets cached word encodings (benchmarks use it to measure a cold start). */
  clearCache(): void {
    this.wordCache.clear();
  }

  private encodeWord(word: string): readonly number[] {
    if (word === START_OF_TEXT) return [this.startOfText];
    if (word === END_OF_TEXT) return [this.endOfText];
    // Keyed by the word itself: a hit skips the UTF-8 byte encoding too.
    const cached = this.wordCache.get(word);
    if (cached !== undefined) return cached;
    // The loader guarantees every BPE symbol is in the vocabulary.
    const ids = this.bpe.encodeWord(byteEncode(word)).map((symbol) => this.encoder.get(symbol)!);
    if (word.length <= WORD_CACHE_MAX_LENGTH) {
      if (this.wordCache.size >= WORD_CACHE_LIMIT) this.wordCache.clear();
      this.wordCache.set(word, ids);
    }
    return ids;
  }

  /** Text of the ids; word ends become spaces, invalid UTF-8 becomes U+FFFD, as in CLIP. */
  decode(ids: ArrayLike<number | bigint>): string {
    const bytes: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = Number(ids[i]);
      const token = this.decoder.get(id);
      if (token === undefined) {
        throw new TokenizerError('UNKNOWN_TOKEN_ID', `id ${String(ids[i])} at position ${i} is not in the vocabulary`);
      }
      for (const ch of token) bytes.push(this.byteDecoder.get(ch)!);
    }
    return new TextDecoder('utf-8', { ignoreBOM: true }).decode(Uint8Array.from(bytes)).replaceAll('</w>', ' ');
  }

  /** Rows of `[startOfText, ...ids, endOfText]`, zero-padded: `clip.tokenize` as Int32Array [n, contextLength]. */
  tokenize(texts: string | readonly string[], options: TokenizeOptions = {}): Int32Array {
    const { contextLength, rows } = this.rows(texts, options);
    const out = new Int32Array(rows.length * contextLength);
    rows.forEach((row, i) => out.set(row, i * contextLength));
    return out;
  }

  /** Same rows as `tokenize`, as int64 for ONNX `input_ids`. */
  tokenizeBigInt64(texts: string | readonly string[], options: TokenizeOptions = {}): BigInt64Array {
    const { contextLength, rows } = this.rows(texts, options);
    const out = new BigInt64Array(rows.length * contextLength);
    rows.forEach((row, i) => row.forEach((id, j) => (out[i * contextLength + j] = BigInt(id))));
    return out;
  }

  private rows(texts: string | readonly string[], options: TokenizeOptions): { contextLength: number; rows: number[][] } {
    const contextLength = options.contextLength ?? DEFAULT_CONTEXT_LENGTH;
    const truncate = options.truncate ?? true;
    if (!Number.isInteger(contextLength) || contextLength < 2) {
      throw new TokenizerError('INVALID_ARGUMENT', `contextLength must be an integer ≥ 2, got ${String(contextLength)}`);
    }
    const list = typeof texts === 'string' ? [texts] : texts;
    const rows = list.map((text, index) => {
      const row = [this.startOfText, ...this.encode(text), this.endOfText];
      if (row.length <= contextLength) return row;
      if (!truncate) throw new TextTooLongError(index, row.length, contextLength);
      row.length = contextLength;
      row[contextLength - 1] = this.endOfText;
      return row;
    });
    return { contextLength, rows };
  }
}
