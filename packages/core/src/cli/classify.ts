// `clipkit classify IMAGES… --model DIR --labels a,b,c`: zero-shot label probabilities per image.
import { InvalidArgumentError, Option, type Command } from 'commander';
import { Clip } from '../clip.js';
import { UsageError } from '../errors.js';
import type { BackendName, DeviceName, PrecisionOption, TemplateSet } from '../types.js';
import { displayPath } from '../util/byte-paths.js';
import { fsReason, readRegularFileSync } from '../util/files.js';
import { action } from './action.js';
import { LIMITS } from '../limits.js';
import { intIn } from './library-options.js';
import { precisionOption } from './precision-option.js';

interface ClassifyCliOptions {
  model: string;
  labels: string[];
  templates: string;
  backend: BackendName;
  device: DeviceName;
  precision: PrecisionOption;
  threads?: number;
  batchSize?: number;
  top?: number;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('classify')
    .description('zero-shot classification: the probability of each label for each image')
    .argument('<images...>', 'image files')
    .requiredOption('--model <dir|repo>', 'model directory, hub repo or alias')
    .requiredOption('--labels <a,b,c>', 'comma-separated candidate labels', parseLabels)
    .option('--templates <set|file>', 'prompt templates: simple ("a photo of a {}."), imagenet80, or a file with one template per line', 'simple')
    .addOption(new Option('--backend <name>', 'encoder backend').choices(['auto', 'onnx', 'native']).default('auto'))
    .addOption(new Option('--device <name>', 'compute device').choices(['cpu', 'cuda']).default('cpu'))
    .addOption(precisionOption('fp32'))
    .option('--threads <n>', `compute threads (${LIMITS.threads.min}–${LIMITS.threads.max})`, intIn(LIMITS.threads))
    .option('--batch-size <n>', `images per encoder batch (${LIMITS.batchSize.min}–${LIMITS.batchSize.max})`, intIn(LIMITS.batchSize))
    .option('--top <k>', 'print only the k most likely labels per image', intIn(LIMITS.top))
    .option('--json', 'print [{image, scores: [{label, probability, logit}]}] on stdout')
    .action(
      action(async (images: string[], opts: ClassifyCliOptions) => {
        const templates = templateSet(opts.templates);
        const clip = await Clip.load(opts.model, {
          backend: opts.backend,
          device: opts.device,
          precision: opts.precision,
          ...(opts.threads !== undefined ? { threads: opts.threads } : {}),
          ...(opts.batchSize !== undefined ? { batchSize: opts.batchSize } : {}),
        });
        try {
          const results = await clip.classify(images, opts.labels, { templates });
          const rows = images.map((image, i) => ({ image, scores: (results[i] ?? []).slice(0, opts.top ?? opts.labels.length) }));
          if (opts.json) {
            process.stdout.write(`${JSON.stringify(rows)}\n`);
            return;
          }
          for (const row of rows) {
            const best = row.scores.map((s) => `${s.label} ${(100 * s.probability).toFixed(1)}%`).join(', ');
            process.stdout.write(`${displayPath(row.image)}: ${best}\n`);
          }
        } finally {
          clip.dispose();
        }
      }),
    );
}

function parseLabels(value: string): string[] {
  const labels = value.split(',').map((l) => l.trim());
  if (labels.some((l) => l === '')) throw new InvalidArgumentError('labels must be non-empty, separated by commas (e.g. cat,dog,car)');
  return labels;
}

function templateSet(value: string): TemplateSet {
  if (value === 'simple' || value === 'imagenet80') return value;
  let text: string;
  try {
    text = readRegularFileSync(value).toString('utf8');
  } catch (err) {
    throw new UsageError(`--templates: "${value}" is neither simple, imagenet80 nor a template file (${fsReason(err)})`, { cause: err });
  }
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
  if (lines.length === 0) throw new UsageError(`--templates: ${value} has no templates`);
  return lines;
}
