// clipkit search QUERY [--image PATH]: the catalog's closest photos to a text, an image, or a
// weighted combination such as  "beach" + "sunset" - "people".
import { Option, type Command } from 'commander';
import { CatalogError } from '../errors.js';
import { Library } from '../library/index.js';
import { displayPath } from '../util/byte-paths.js';
import { action } from './action.js';
import { precisionOption } from './precision-option.js';
import { LIMITS } from '../limits.js';
import { addLibraryOptions, intIn, libraryOptions, withLibrary, type LibraryCliOptions } from './library-options.js';

interface SearchCliOptions extends LibraryCliOptions {
  image?: string;
  k: number;
  index: 'exact' | 'hnsw';
  efSearch?: number;
}

export function register(program: Command): void {
  addLibraryOptions(
    program
      .command('search')
      .description('find photos by text, by image, or by combined queries: "beach" + "sunset" - "people", 2*"dog"')
      .argument('[query]', 'text query; terms joined by + and - (spaced), weights as 2*"term", image:PATH terms', ''),
  )
    .addOption(precisionOption('auto'))
    .option('--image <path>', 'find photos similar to this image (combines with the query)')
    .option('--k <n>', `number of results (${LIMITS.topK.min}–${LIMITS.topK.max})`, intIn(LIMITS.topK), 20)
    .addOption(
      new Option('--index <kind>', 'exact top-k in clipkit, or hnsw: pgvector HNSW on the PostgreSQL server (approximate)')
        .choices(['exact', 'hnsw'])
        .default('exact'),
    )
    .option(
      '--ef-search <n>',
      `with --index hnsw: candidates the index search keeps (${LIMITS.efSearch.min}–${LIMITS.efSearch.max}, default max(100, 4k)); higher is closer to exact and slower`,
      intIn(LIMITS.efSearch),
    )
    .action(
      action(async (query: string, opts: SearchCliOptions) => {
        const open = () => Library.openExisting(opts.db, libraryOptions(opts, { index: opts.index, ...(opts.efSearch !== undefined ? { efSearch: opts.efSearch } : {}) }));
        const hits = await withLibrary(open, async (library) => {
          // An empty result from an empty catalog says nothing; say why instead.
          if ((await library.counts()).ok === 0) {
            throw new CatalogError('holds no searchable images yet: run `clipkit import DIR` with this --db first', library.dbPath);
          }
          return library.search(query, opts.k, { image: opts.image });
        });
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(hits)}\n`);
          return;
        }
        for (const h of hits) process.stdout.write(`${h.score.toFixed(4)}  ${displayPath(h.path)}\n`);
      }),
    );
}
