// clipkit search QUERY [--image PATH]: the catalog's closest photos to a text, an image, or a
// weighted combination such as  "beach" + "sunset" - "people".
import { Option, type Command } from 'commander';
import { Library } from '../library/index.js';
import { action } from './action.js';
import { addLibraryOptions, libraryOptions, positiveInt, withLibrary, type LibraryCliOptions } from './library-options.js';

interface SearchCliOptions extends LibraryCliOptions {
  image?: string;
  k: number;
  index: 'exact' | 'hnsw';
}

export function register(program: Command): void {
  addLibraryOptions(
    program
      .command('search')
      .description('find photos by text, by image, or by combined queries: "beach" + "sunset" - "people", 2*"dog"')
      .argument('[query]', 'text query; terms joined by + and - (spaced), weights as 2*"term", image:PATH terms', ''),
  )
    .option('--image <path>', 'find photos similar to this image (combines with the query)')
    .option('--k <n>', 'number of results', positiveInt, 20)
    .addOption(
      new Option('--index <kind>', 'exact top-k in clipkit, or hnsw: pgvector HNSW on the PostgreSQL server (approximate)')
        .choices(['exact', 'hnsw'])
        .default('exact'),
    )
    .action(
      action(async (query: string, opts: SearchCliOptions) => {
        const open = () => Library.openExisting(opts.db, libraryOptions(opts, { index: opts.index }));
        const hits = await withLibrary(open, (library) => library.search(query, opts.k, { image: opts.image }));
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(hits)}\n`);
          return;
        }
        for (const h of hits) process.stdout.write(`${h.score.toFixed(4)}  ${h.path}\n`);
      }),
    );
}
