// `clipkit encode`: embeddings of preprocessed pixels or token ids (.npy), image files, or texts
// (JSON lines) written as a float32 [n, projection_dim] .npy.
import type { Command } from 'commander';
import { createBackend } from '../backends/create.js';
import { checkInputIds, checkPixelBatch } from '../backends/inputs.js';
import { Clip } from '../clip.js';
import { normalizeRows } from '../embeddings.js';
import { UsageError } from '../errors.js';
import { LIMITS, parseIntRange } from '../limits.js';
import { resolveModel } from '../model/hub.js';
import { openModelDir, type ModelDir } from '../model/model-dir.js';
import type { BackendName, ClipLoadOptions, DeviceName, PixelBatch, Precision, PrecisionOption } from '../types.js';
import { readNpy, writeNpy } from '../util/npy.js';
import { fsReason, readRegularFileSync } from '../util/files.js';
import { action } from './action.js';
import { precisionOption } from './precision-option.js';

interface EncodeFlags {
  model: string;
  backend?: string;
  device?: string;
  threads?: string;
  batchSize?: string;
  precision: PrecisionOption;
  pixels?: string;
  inputIds?: string;
  images?: string[];
  textsJsonl?: string;
  out: string;
  normalize?: boolean;
}

function loadOptions(flags: EncodeFlags): ClipLoadOptions {
  const backend = flags.backend ?? 'auto';
  if (!['auto', 'native', 'onnx'].includes(backend)) throw new UsageError(`--backend must be native, onnx or auto, got "${backend}"`);
  const device = flags.device ?? 'cpu';
  if (device !== 'cpu' && device !== 'cuda') throw new UsageError(`--device must be cpu or cuda, got "${device}"`);
  return {
    backend: backend as BackendName,
    device: device as DeviceName,
    precision: flags.precision,
    ...(flags.threads !== undefined ? { threads: parseIntRange('--threads', flags.threads, LIMITS.threads) } : {}),
    ...(flags.batchSize !== undefined ? { batchSize: parseIntRange('--batch-size', flags.batchSize, LIMITS.batchSize) } : {}),
  };
}

/** float32 [n, 3, S, S] for this model's image size. */
function readPixels(file: string, model: ModelDir): PixelBatch {
  const arr = readNpy(file);
  const { imageSize: s, numChannels: c } = model.config.vision;
  const [n, ...rest] = arr.shape;
  if (arr.dtype !== 'float32' || n === undefined || rest.length !== 3 || rest[0] !== c || rest[1] !== s || rest[2] !== s) {
    throw new UsageError(`--pixels ${file}: expected float32 [n, ${c}, ${s}, ${s}], got ${arr.dtype} [${arr.shape.join(', ')}]`);
  }
  const pixels: PixelBatch = { data: arr.data, n, size: s };
  // The backend checks the values too, but cannot say which file they came from.
  try {
    checkPixelBatch(pixels, model.config);
  } catch (err) {
    throw new UsageError(`--pixels ${file}: ${(err as Error).message}`, { cause: err });
  }
  return pixels;
}

/** int64 or int32 [n, contextLength] → int32 rows. */
function readInputIds(file: string, model: ModelDir): { ids: Int32Array; n: number } {
  const arr = readNpy(file);
  const L = model.config.text.contextLength;
  const [n, len] = arr.shape;
  if (arr.dtype === 'float32' || arr.shape.length !== 2 || n === undefined || len !== L) {
    throw new UsageError(`--input-ids ${file}: expected int64 or int32 [n, ${L}], got ${arr.dtype} [${arr.shape.join(', ')}]`);
  }
  let ids: Int32Array;
  if (arr.dtype === 'int32') {
    ids = arr.data;
  } else {
    ids = new Int32Array(arr.data.length);
    for (let i = 0; i < ids.length; i++) {
      const v = arr.data[i] as bigint;
      if (v < -(2n ** 31n) || v >= 2n ** 31n) throw new UsageError(`--input-ids ${file}: id ${v} at [${Math.floor(i / L)}][${i % L}] does not fit int32`);
      ids[i] = Number(v);
    }
  }
  // The backend checks the vocabulary too, but cannot say which file the id came from.
  try {
    checkInputIds(ids, n, model.config);
  } catch (err) {
    throw new UsageError(`--input-ids ${file}: ${(err as Error).message}`, { cause: err });
  }
  return { ids, n };
}

/** One text per line: a JSON string or an object with a "text" string. Blank lines are skipped. */
function readTextsJsonl(file: string): string[] {
  let content: string;
  try {
    content = readRegularFileSync(file).toString('utf8');
  } catch (err) {
    throw new UsageError(`--texts-jsonl ${file}: cannot read (${fsReason(err)})`, { cause: err });
  }
  const texts: string[] = [];
  content.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new UsageError(`--texts-jsonl ${file}:${i + 1}: not valid JSON`);
    }
    const text = typeof value === 'string' ? value : (value as { text?: unknown } | null)?.text;
    if (typeof text !== 'string') throw new UsageError(`--texts-jsonl ${file}:${i + 1}: expected a JSON string or {"text": "..."}`);
    texts.push(text);
  });
  return texts;
}

async function encode(flags: EncodeFlags): Promise<{ data: Float32Array; n: number; dim: number; runtime: string }> {
  const given = [flags.pixels, flags.inputIds, flags.images, flags.textsJsonl].filter((x) => x !== undefined).length;
  if (given !== 1) throw new UsageError('give exactly one of --pixels, --input-ids, --images, --texts-jsonl');
  const opts = loadOptions(flags);
  const dir = await resolveModel(flags.model);

  if (flags.pixels !== undefined || flags.inputIds !== undefined) {
    // Preprocessed tensors go straight to the backend: no tokenizer or image pipeline involved.
    const model = openModelDir(dir);
    const pixels = flags.pixels === undefined ? undefined : readPixels(flags.pixels, model);
    const ids = flags.inputIds === undefined ? undefined : readInputIds(flags.inputIds, model);
    const backend = await createBackend(model, opts);
    try {
      const data = pixels !== undefined ? await backend.encodeImages(pixels) : await backend.encodeTexts(ids!.ids, ids!.n);
      const dim = model.info.projectionDim;
      return { data, n: data.length / dim, dim, runtime: runtime(backend.name, backend.device, backend.precision) };
    } finally {
      backend.dispose();
    }
  }

  const texts = flags.textsJsonl === undefined ? undefined : readTextsJsonl(flags.textsJsonl);
  const clip = await Clip.load(dir, opts);
  try {
    const data = texts !== undefined ? await clip.encodeTexts(texts) : await clip.encodeImages(flags.images!);
    const dim = clip.info.projectionDim;
    return { data, n: data.length / dim, dim, runtime: runtime(clip.runtime.backend, clip.runtime.device, clip.precision) };
  } finally {
    clip.dispose();
  }
}

/** "native/cpu", with " bf16" when the encoders ran in bf16 (fp32 is the default, unmarked). */
function runtime(backend: string, device: string, precision: Precision): string {
  return `${backend}/${device}${precision === 'bf16' ? ' bf16' : ''}`;
}

export function register(program: Command): void {
  program
    .command('encode')
    .description('write embeddings [n, projection_dim] of pixels, token ids, images or texts as a float32 .npy')
    .requiredOption('--model <dir>', 'model directory (or hub repo id)')
    .option('--backend <name>', 'native, onnx or auto', 'auto')
    .option('--device <name>', 'cpu or cuda', 'cpu')
    .option('--threads <n>', `compute threads (${LIMITS.threads.min}–${LIMITS.threads.max})`)
    .option('--batch-size <n>', `largest batch per encoder call (${LIMITS.batchSize.min}–${LIMITS.batchSize.max})`)
    .addOption(precisionOption('fp32'))
    .option('--pixels <file.npy>', 'preprocessed float32 [n, 3, S, S]')
    .option('--input-ids <file.npy>', 'token ids int64 or int32 [n, context_length]')
    .option('--images <files...>', 'image files')
    .option('--texts-jsonl <file>', 'one text per line (JSON string or {"text": ...})')
    .requiredOption('--out <file.npy>', 'output .npy')
    .option('--normalize', 'L2-normalise each row')
    .action(
      action(async (flags: EncodeFlags) => {
        const { data, n, dim, runtime } = await encode(flags);
        writeNpy(flags.out, flags.normalize ? normalizeRows(data, dim) : data, [n, dim]);
        process.stdout.write(`wrote ${flags.out}: float32 [${n}, ${dim}] (${runtime})\n`);
      }),
    );
}
