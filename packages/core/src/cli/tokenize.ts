// `clipkit tokenize --vocab PATH`: JSON Lines of strings on stdin → one JSON array of token ids
// per line on stdout, each row as clip.tokenize gives it ([start, ...ids, end], zero-padded).
import type { Command } from 'commander';
import { ClipTokenizer, TextTooLongError, TokenizerError } from '@clipkit/tokenizer';
import { ModelFormatError, UsageError } from '../errors.js';
import { LIMITS, parseIntRange } from '../limits.js';
import { action } from './action.js';

interface TokenizeFlags {
  vocab: string;
  contextLength: string;
  truncate: boolean;
}

/** Lines written per stdout write: one syscall per line would dominate the run time. */
const OUTPUT_BATCH = 1024;

async function loadTokenizer(path: string): Promise<ClipTokenizer> {
  try {
    return await ClipTokenizer.fromPath(path);
  } catch (err) {
    if (err instanceof TokenizerError && err.code === 'VOCAB_NOT_FOUND') throw new UsageError(`--vocab ${err.message}`, { cause: err });
    if (err instanceof TokenizerError) throw new ModelFormatError(err.message, err.path ?? path, { cause: err });
    throw err;
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Lines as raw bytes (without \n or \r\n), so that bytes that are not UTF-8 can be refused. */
async function* byteLines(input: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let rest = Buffer.alloc(0);
  for await (const chunk of input) {
    let buf = rest.length > 0 ? Buffer.concat([rest, chunk]) : chunk;
    let nl: number;
    while ((nl = buf.indexOf(0x0a)) !== -1) {
      yield stripCr(buf.subarray(0, nl));
      buf = buf.subarray(nl + 1);
    }
    rest = Buffer.from(buf);
  }
  if (rest.length > 0) yield stripCr(rest);
}

function stripCr(line: Buffer): Buffer {
  return line.length > 0 && line[line.length - 1] === 0x0d ? line.subarray(0, -1) : line;
}

function decodeLine(bytes: Buffer, lineNumber: number): string {
  try {
    return utf8.decode(bytes);
  } catch (err) {
    throw new UsageError(`stdin line ${lineNumber}: not valid UTF-8 (texts are JSON strings in UTF-8)`, { cause: err });
  }
}

function parseLine(line: string, lineNumber: number): string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    throw new UsageError(`stdin line ${lineNumber}: invalid JSON (${(err as Error).message})`, { cause: err });
  }
  if (typeof value !== 'string') throw new UsageError(`stdin line ${lineNumber}: expected a JSON string, got ${value === null ? 'null' : typeof value}`);
  return value;
}

function write(chunk: string): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(chunk, (err) => (err ? reject(err) : resolve()));
  });
}

export function register(program: Command): void {
  program
    .command('tokenize')
    .description('tokenize JSON Lines of strings from stdin into rows of CLIP token ids (one JSON array per line)')
    .requiredOption('--vocab <path>', 'model directory, tokenizer.json, vocab.json or bpe_simple_vocab_16e6.txt.gz')
    .option('--context-length <n>', `row length including start/end tokens (${LIMITS.contextLength.min}–${LIMITS.contextLength.max})`, '77')
    .option('--no-truncate', 'fail on a text longer than the context instead of cutting it')
    .addHelpText('after', '\nBlank input lines are skipped. Bad JSON or an over-long text (with --no-truncate) exits with code 2.')
    .action(
      action(async (flags: TokenizeFlags) => {
        const contextLength = parseIntRange('--context-length', flags.contextLength, LIMITS.contextLength);
        const tokenizer = await loadTokenizer(flags.vocab);
        let lineNumber = 0;
        let pending: string[] = [];
        try {
          for await (const bytes of byteLines(process.stdin)) {
            lineNumber++;
            const line = decodeLine(bytes, lineNumber);
            if (line.trim() === '') continue;
            const text = parseLine(line, lineNumber);
            let row: Int32Array;
            try {
              row = tokenizer.tokenize([text], { contextLength, truncate: flags.truncate });
            } catch (err) {
              if (err instanceof TextTooLongError) {
                throw new UsageError(`stdin line ${lineNumber}: text is ${err.tokenCount} tokens long, more than the context length ${contextLength}`, { cause: err });
              }
              throw err;
            }
            pending.push(`[${row.join(',')}]`);
            if (pending.length >= OUTPUT_BATCH) {
              await write(pending.join('\n') + '\n');
              pending = [];
            }
          }
        } finally {
          // Rows before a bad line are still delivered, so the output lines up with the input.
          if (pending.length > 0) await write(pending.join('\n') + '\n');
        }
      }),
    );
}
