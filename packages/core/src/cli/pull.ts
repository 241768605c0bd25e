// `clipkit pull REPO[@REVISION]`: fetch a model into the local cache, with a progress bar.
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { pullModel, DEFAULT_MODEL } from '../model/hub.js';
import { action } from './action.js';

export function register(program: Command): void {
  program
    .command('pull')
    .description(`download a model (repo id like openai/clip-vit-base-patch32, or alias ViT-B-32 | ViT-B-16 | ViT-L-14) into the cache`)
    .argument('[repo]', 'REPO[@REVISION] or alias', DEFAULT_MODEL)
    .option('--with-onnx', 'also fetch the ONNX encoders when the repo has safetensors')
    .option('--offline', 'use the cache only; fail if a file is missing')
    .option('--json', 'print the result as JSON')
    .action(
      action(async (repo: string, opts: { withOnnx?: boolean; offline?: boolean; json?: boolean }) => {
        const bar = process.stderr.isTTY && !opts.json
          ? new cliProgress.SingleBar(
              { format: '{file} [{bar}] {percentage}% | {value}/{total} MB | {eta_formatted}', stream: process.stderr },
              cliProgress.Presets.shades_classic,
            )
          : null;
        let current = '';
        const result = await pullModel(repo, {
          ...(opts.offline ? { offline: true } : {}),
          ...(opts.withOnnx ? { withOnnx: true } : {}),
          onFile: (file, size) => {
            current = file;
            if (bar) {
              bar.stop();
              bar.start(Math.max(1, Math.round((size ?? 0) / 1e6)), 0, { file });
            } else if (!opts.json) {
              process.stderr.write(`downloading ${file}${size !== undefined ? ` (${(size / 1e6).toFixed(1)} MB)` : ''}\n`);
            }
          },
          onProgress: (file, received) => {
            if (bar && file === current) bar.update(Math.round(received / 1e6), { file });
          },
        });
        bar?.stop();
        if (opts.json) {
          process.stdout.write(`${JSON.stringify({ repo: result.ref.repo, revision: result.ref.revision, dir: result.dir, files: result.files, downloaded: result.downloaded })}\n`);
        } else {
          process.stdout.write(`${result.ref.repo}@${result.ref.revision} → ${result.dir} (${result.downloaded.length} downloaded, ${result.files.length - result.downloaded.length} cached)\n`);
        }
      }),
    );
}
