// clipkit import DIR: embed every image under DIR into the catalog (incremental, crash-safe).
import { Option, type Command } from 'commander';
import { Library, type CatalogCounts, type ImportSummary, type StoreFormat } from '../library/index.js';
import { openRoot } from '../library/scan.js';
import type { Precision } from '../types.js';
import { displayMessage, displayPath } from '../util/byte-paths.js';
import { action } from './action.js';
import { precisionOption } from './precision-option.js';
import { reportProgress } from './import-progress.js';
import { LIMITS } from '../limits.js';
import { addLibraryOptions, intIn, libraryOptions, withLibrary, type LibraryCliOptions } from './library-options.js';

interface ImportCliOptions extends LibraryCliOptions {
  store?: StoreFormat;
  batchSize: number;
  hidden?: boolean;
  followLinks?: boolean;
  prune?: boolean;
  leaseSeconds: number;
}

export function register(program: Command): void {
  addLibraryOptions(
    program
      .command('import')
      .description('embed every image under DIR into the catalog; reruns only encode new or changed files')
      .argument('<dir>', 'folder to import (recursively)'),
  )
    .addOption(precisionOption('auto'))
    .addOption(new Option('--store <format>', 'embedding storage of a new catalog (default f32)').choices(['f32', 'f16']))
    .option('--batch-size <n>', `images per encoder batch (${LIMITS.batchSize.min}–${LIMITS.batchSize.max})`, intIn(LIMITS.batchSize), 32)
    .option('--hidden', 'also import hidden folders and files')
    .option('--follow-links', 'also follow symlinks that lead outside DIR (default: report and skip them)')
    .option('--prune', 'delete catalog entries of files that disappeared (default: mark them missing)')
    .option('--lease-seconds <n>', `PostgreSQL: a claimed batch goes to another importer after this long without a heartbeat (${LIMITS.leaseSeconds.min}–${LIMITS.leaseSeconds.max} s)`, intIn(LIMITS.leaseSeconds), 60)
    .action(
      action(async (dir: string, opts: ImportCliOptions) => {
        await openRoot(dir); // a wrong DIR fails before the catalog is created
        const open = () => Library.open(opts.db, libraryOptions(opts, { store: opts.store }));
        const [summary, counts, precisions] = await withLibrary(open, async (library) => {
          // Said once, when the import creates the catalog's contents.
          if (library.storage.vectors === 'bytea' && !(await library.model())) {
            process.stderr.write(`clipkit: note: ${displayPath(library.dbPath)} stores vectors as bytea, not pgvector halfvec (${library.storage.detail}); --index hnsw is unavailable\n`);
          }
          const job = library.import(dir, {
            batchSize: opts.batchSize,
            hidden: opts.hidden,
            prune: opts.prune,
            followLinks: opts.followLinks,
            leaseSeconds: opts.leaseSeconds,
          });
          reportProgress(job, opts.json ? 'none' : process.stderr.isTTY ? 'bar' : 'plain');
          return [await job.result, await library.counts(), await library.precisions()] as const;
        });
        if (opts.json) process.stdout.write(`${JSON.stringify({ ...jsonSummary(summary), catalog: { ...counts, precisions } })}\n`);
        else printSummary(summary, counts, precisions);
      }),
    );
}

function jsonSummary(s: ImportSummary) {
  return {
    root: s.root,
    files: s.files,
    unchanged: s.unchanged,
    encoded: s.encoded,
    linked: s.linked,
    errorCount: s.errors.length,
    errors: s.errors,
    missing: s.missing,
    notImages: s.notImages,
    precision: s.precision,
    seconds: Number(s.seconds.toFixed(3)),
    imagesPerSecond: Number(s.imagesPerSecond.toFixed(2)),
    stages: Object.fromEntries(
      Object.entries(s.stages).map(([stage, t]) => [
        stage,
        { seconds: Number(t.seconds.toFixed(3)), items: t.items, itemsPerSecond: Number(t.itemsPerSecond.toFixed(2)) },
      ]),
    ),
  };
}

const ERRORS_SHOWN = 20;

function printSummary(s: ImportSummary, catalog: CatalogCounts, precisions: Partial<Record<Precision, number>>): void {
  const out = process.stdout;
  out.write(
    `imported ${displayPath(s.root)}: ${s.files} image files (${s.encoded} encoded, ${s.linked} linked, ${s.unchanged} unchanged, ` +
      `${s.errors.length} errors, ${s.missing} missing) in ${s.seconds.toFixed(1)} s, ${s.imagesPerSecond.toFixed(1)} images/s, ${s.precision}\n`,
  );
  const byPrecision = Object.entries(precisions).map(([p, n]) => `${n} ${p}`);
  const mixed = byPrecision.length > 1 ? ` (${byPrecision.join(', ')})` : '';
  out.write(`catalog: ${catalog.ok} searchable files${mixed}, ${catalog.errors} broken, ${catalog.missing} missing\n`);
  for (const e of s.errors.slice(0, ERRORS_SHOWN)) process.stderr.write(`  error: ${displayMessage(e.message, e.path)}\n`);
  if (s.errors.length > ERRORS_SHOWN) process.stderr.write(`  … and ${s.errors.length - ERRORS_SHOWN} more (see --json)\n`);
}
