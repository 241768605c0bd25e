// `clipkit preprocess IMAGES... --out OUT.npy`: the image pipeline alone, writing the float32
// [n, 3, size, size] batch an encoder would receive. Directories expand to the files inside them
// (recursively, sorted); formats are detected from content, so any file is tried.
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { ImageDecodeError, UsageError, type ClipkitError } from '../errors.js';
import { defaultImageConfig, ImagePreprocessor, type ImagePreprocessorOptions } from '../image/preprocess.js';
import { LIMITS, parseIntRange } from '../limits.js';
import { writeNpy } from '../util/npy.js';
import { displayMessage } from '../util/byte-paths.js';
import { action } from './action.js';

/** The whole output is one float32 array in memory: 4 GiB at most. */
const MAX_OUTPUT_VALUES = 2 ** 30;

interface PreprocessCliOptions {
  out: string;
  size?: string;
  model?: string;
  mode: 'exact' | 'fast';
  orientation: 'exif' | 'ignore';
  alpha: 'reference' | 'white' | 'black';
  crop: 'round' | 'floor';
  rgbFirst?: boolean;
  skipErrors?: boolean;
}

export function register(program: Command): void {
  program
    .command('preprocess')
    .description('decode and preprocess images into a float32 [n,3,size,size] .npy (what the vision encoder takes)')
    .argument('<images...>', 'image files or directories')
    .requiredOption('--out <file>', 'output .npy path')
    .option('--size <n>', `resize shorter side and crop to n, ${LIMITS.imageSize.min}–${LIMITS.imageSize.max} (default 224, or the model's)`)
    .option('--model <dir>', "take size, mean and std from a model directory's preprocessor_config.json")
    .option('--mode <mode>', 'exact (Pillow parity) | fast (shrink-on-load first)', 'exact')
    .option('--orientation <o>', 'exif (rotate upright) | ignore (as stored, like the reference)', 'exif')
    .option('--alpha <a>', 'reference (drop alpha like Pillow) | white | black (composite)', 'reference')
    .option('--crop <c>', 'round (OpenAI, half to even) | floor (Hugging Face)', 'round')
    .option('--rgb-first', "convert to RGB before resizing (Hugging Face's order)")
    .option('--skip-errors', 'report images that fail and keep going; the output holds the good ones')
    .action(action(async (images: string[], opts: PreprocessCliOptions) => run(images, opts)));
}

async function run(args: string[], opts: PreprocessCliOptions): Promise<void> {
  const files = await expandInputs(args);
  if (files.length === 0) throw new UsageError('no image files given');
  const pre = makePreprocessor(opts);
  const slot = 3 * pre.size * pre.size;
  if (files.length * slot > MAX_OUTPUT_VALUES) {
    const gib = (files.length * slot * 4) / 2 ** 30;
    throw new UsageError(`${files.length} images of ${pre.size}×${pre.size} would need ${gib.toFixed(1)} GiB (at most 4 GiB per run): preprocess them in smaller groups`);
  }
  const { pixels, errors } = await pre.preprocess(files, new Float32Array(files.length * slot));

  const failed = errors.flatMap((e, i) => (e === null ? [] : [{ file: files[i] as string, error: e }]));
  if (failed.length > 0 && !opts.skipErrors) {
    const first = failed[0] as { file: string; error: ClipkitError };
    const more = failed.length > 1 ? ` (and ${failed.length - 1} more; --skip-errors writes the rest)` : ' (--skip-errors writes the rest)';
    throw withSuffix(first.error, more);
  }
  for (const f of failed) process.stderr.write(`clipkit: skipped ${displayMessage(f.error.message, f.error.path)}\n`);

  // Compact the good slots to the front, in input order.
  let n = 0;
  for (let i = 0; i < files.length; i++) {
    if (errors[i] !== null) continue;
    if (n !== i) pixels.data.copyWithin(n * slot, i * slot, (i + 1) * slot);
    n++;
  }
  if (n === 0) throw new ImageDecodeError(`none of the ${files.length} inputs could be preprocessed`);
  writeNpy(opts.out, pixels.data.subarray(0, n * slot), [n, 3, pre.size, pre.size]);
  process.stdout.write(`wrote ${opts.out}: [${n}, 3, ${pre.size}, ${pre.size}] float32${failed.length ? `, ${failed.length} skipped` : ''}\n`);
}

function makePreprocessor(opts: PreprocessCliOptions): ImagePreprocessor {
  const imageOpts: ImagePreprocessorOptions = {
    mode: opts.mode,
    orientation: opts.orientation,
    alpha: opts.alpha,
    crop: opts.crop,
    rgbFirst: opts.rgbFirst === true,
  };
  const size = opts.size === undefined ? undefined : parseIntRange('--size', opts.size, LIMITS.imageSize);
  if (opts.model !== undefined) {
    const fromModel = ImagePreprocessor.fromModelDir(opts.model, imageOpts);
    if (size === undefined) return fromModel;
    return new ImagePreprocessor({ ...fromModel.config, resizeShortest: size, cropSize: size }, imageOpts);
  }
  return new ImagePreprocessor(defaultImageConfig(size ?? 224), imageOpts);
}

async function expandInputs(args: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const arg of args) {
    const info = await stat(arg).catch(() => null);
    if (info?.isDirectory()) out.push(...(await listFiles(arg)));
    else out.push(arg); // a missing file is reported by the decoder, naming it
  }
  return out;
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const files: string[] = [];
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const full = path.join(dir, e.name);
    if (e.isDirectory()) files.push(...(await listFiles(full)));
    else if (e.isFile()) files.push(full);
  }
  return files;
}

function withSuffix(error: ClipkitError, suffix: string): ClipkitError {
  error.message += suffix;
  return error;
}
