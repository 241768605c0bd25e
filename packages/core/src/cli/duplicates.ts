// clipkit duplicates: groups of near-identical photos in the catalog.
import type { Command } from 'commander';
import { Library } from '../library/index.js';
import { displayPath } from '../util/byte-paths.js';
import { action } from './action.js';
import { addLibraryOptions, libraryOptions, similarity, withLibrary, type LibraryCliOptions } from './library-options.js';

interface DuplicatesCliOptions extends LibraryCliOptions {
  threshold: number;
}

export function register(program: Command): void {
  addLibraryOptions(
    program.command('duplicates').description('list groups of near-duplicate photos (cosine similarity ≥ threshold)'),
  )
    .option('--threshold <cos>', 'minimum cosine similarity to count as a duplicate, in (-1, 1]', similarity, 0.95)
    .action(
      action(async (opts: DuplicatesCliOptions) => {
        const open = () => Library.openExisting(opts.db, libraryOptions(opts));
        const groups = await withLibrary(open, async (library) => library.duplicates(opts.threshold));
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(groups)}\n`);
          return;
        }
        groups.forEach((g, i) => {
          process.stdout.write(`group ${i + 1} (${g.paths.length} files, min similarity ${g.minScore.toFixed(4)})\n`);
          for (const p of g.paths) process.stdout.write(`  ${displayPath(p)}\n`);
        });
        if (groups.length === 0) process.stdout.write('no duplicates\n');
      }),
    );
}
