// clipkit status: what a catalog holds and, on PostgreSQL, what its importers are doing:
// files pending / claimed / waiting and each importer's done and failed counts.
import type { Command } from 'commander';
import { Library } from '../library/index.js';
import { displayPath } from '../util/byte-paths.js';
import { action } from './action.js';
import { defaultDb, withLibrary } from './library-options.js';

export function register(program: Command): void {
  program
    .command('status')
    .description('catalog counts and, on PostgreSQL, the shared import queue: pending / claimed / done / failed per importer')
    .option('--db <path|url>', 'catalog: a SQLite file or postgres://user:password@host:port/database (env CLIPKIT_DB)', defaultDb())
    .option('--json', 'machine-readable output on stdout')
    .action(
      action(async (opts: { db: string; json?: boolean }) => {
        const report = await withLibrary(
          () => Library.openExisting(opts.db),
          async (library) => ({ catalog: library.dbPath, storage: library.storage, counts: await library.counts(), queue: await library.queueStatus() }),
        );
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(report)}\n`);
          return;
        }
        const { counts: c, queue: q } = report;
        const out = [`${displayPath(report.catalog)} (${report.storage.engine}, ${report.storage.vectors})`];
        out.push(`files: ${c.ok} searchable, ${c.errors} broken, ${c.missing} missing; ${c.contents} distinct contents`);
        if (q) {
          out.push(`queue: ${q.pending} pending, ${q.claimed} claimed, ${q.waiting} waiting`);
          for (const w of q.workers) {
            out.push(`  ${displayPath(w.id)}  ${w.state}  claimed ${w.claimed}  done ${w.done}  failed ${w.failed}  seen ${w.lastSeenSecondsAgo} s ago  ${displayPath(w.root)}`);
          }
        }
        process.stdout.write(`${out.join('\n')}\n`);
      }),
    );
}
