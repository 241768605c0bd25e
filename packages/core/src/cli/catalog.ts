// clipkit catalog copy --from A --to B: moves a catalog between a SQLite file and PostgreSQL
// (either way) with its embeddings as stored: no model is loaded, nothing is re-encoded.
import type { Command } from 'commander';
import { Library } from '../library/index.js';
import { displayPath } from '../util/byte-paths.js';
import { action } from './action.js';

export function register(program: Command): void {
  const catalog = program.command('catalog').description('manage catalogs: copy between SQLite and PostgreSQL');
  catalog
    .command('copy')
    .description('copy files, contents and embeddings from one catalog into another, without re-encoding')
    .requiredOption('--from <path|url>', 'source catalog: a SQLite file or postgres://…')
    .requiredOption('--to <path|url>', 'destination catalog (created when absent; must hold the same model)')
    .option('--json', 'machine-readable output on stdout')
    .action(
      action(async (opts: { from: string; to: string; json?: boolean }) => {
        const summary = await Library.copyCatalog(opts.from, opts.to);
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(summary)}\n`);
          return;
        }
        process.stdout.write(`copied ${summary.contents} contents (${summary.files} files, stored ${summary.store}) from ${displayPath(summary.from)} to ${displayPath(summary.to)}\n`);
      }),
    );
}
