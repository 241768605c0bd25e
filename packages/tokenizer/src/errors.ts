// The one error type of @clipkit/tokenizer. `code` is stable for callers to branch on;
// `path` names the vocabulary file when the problem is in one.

export type TokenizerErrorCode =
  | 'VOCAB_NOT_FOUND'
  | 'VOCAB_MALFORMED'
  | 'TEXT_TOO_LONG'
  | 'UNKNOWN_TOKEN_ID'
  | 'INVALID_ARGUMENT';

export class TokenizerError extends Error {
  readonly code: TokenizerErrorCode;
  readonly path: string | undefined;
  constructor(code: TokenizerErrorCode, message: string, path?: string, options?: { cause?: unknown }) {
    super(path !== undefined && !message.includes(path) ? `${path}: ${message}` : message, options);
    this.name = 'TokenizerError';
    this.code = code;
    this.path = path;
  }
}

/** Thrown by `tokenize(..., { truncate: false })` for a text longer than the context. */
export class TextTooLongError extends TokenizerError {
  /** Position of the offending text in the input array. */
  readonly index: number;
  /** Its length in tokens, start and end markers included. */
  readonly tokenCount: number;
  readonly contextLength: number;
  constructor(index: number, tokenCount: number, contextLength: number) {
    super(
      'TEXT_TOO_LONG',
      `text ${index} is ${tokenCount} tokens long (with start/end markers), more than the context length ${contextLength}`,
    );
    this.name = 'TextTooLongError';
    this.index = index;
    this.tokenCount = tokenCount;
    this.contextLength = contextLength;
  }
}
