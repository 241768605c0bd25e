// clipkit serve: the catalog as a local web page and JSON API, until Ctrl-C.
import type { Command } from 'commander';
import { Library } from '../library/index.js';
import { DEFAULT_PORT, serve } from '../serve/index.js';
import { action } from './action.js';
import { LIMITS } from '../limits.js';
import { addLibraryOptions, intIn, libraryOptions, type LibraryCliOptions } from './library-options.js';
import { precisionOption } from './precision-option.js';

interface ServeCliOptions extends LibraryCliOptions {
  port: number;
  host: string;
  token?: string;
}

export function register(program: Command): void {
  addLibraryOptions(program.command('serve').description('browse and search the catalog in a web page (JSON API included)'))
    .addOption(precisionOption('auto'))
    .option('--port <n>', `TCP port (${LIMITS.port.min}–${LIMITS.port.max}; 0: any free one)`, intIn(LIMITS.port), DEFAULT_PORT)
    .option('--host <addr>', 'address to bind; anything but loopback requires a token', '127.0.0.1')
    .option('--token <t>', 'require this token on every request (generated and printed when --host is not loopback)')
    .action(
      action(async (opts: ServeCliOptions) => {
        const library = await Library.openExisting(opts.db, libraryOptions(opts));
        try {
          const handle = await serve(library, { port: opts.port, host: opts.host, token: opts.token });
          const open = handle.token !== null ? `${handle.url}?token=${encodeURIComponent(handle.token)}` : handle.url;
          if (opts.json) process.stdout.write(`${JSON.stringify({ url: handle.url, token: handle.token, open, host: handle.host, allInterfaces: handle.allInterfaces })}\n`);
          else {
            const lines = [`clipkit serve: ${open}`];
            if (handle.allInterfaces) lines.push(`clipkit serve: listening on all interfaces (${opts.host} port ${handle.port}): from another machine, use this machine's name or address in place of ${new URL(handle.url).hostname}`);
            if (handle.token !== null && opts.token === undefined) lines.push('clipkit serve: the token above is shown only once');
            process.stdout.write(`${lines.join('\n')}\n`);
          }
          await new Promise<void>((resolve) => {
            process.once('SIGINT', resolve);
            process.once('SIGTERM', resolve);
          });
          await handle.close();
        } finally {
          await library.close();
        }
      }),
    );
}
