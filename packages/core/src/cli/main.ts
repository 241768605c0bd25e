// The `clipkit` command line: one module per command, each exporting `register(program)`.
// Errors from any command, registered here or later, meet one boundary (reportError): one line
// on stderr, exit 1 or 2, a stack trace only with --debug or CLIPKIT_DEBUG=1.
import { Command } from 'commander';
import { EXIT_USAGE, reportError, setDebug } from './action.js';
import { commands } from './commands.js';
import { recoverArgv } from '../util/byte-paths.js';

// --debug is accepted anywhere on the line, before or after the command.
// Arguments that are not UTF-8 (file names are bytes) get their bytes back first.
const argv = recoverArgv(process.argv).filter((a) => a !== '--debug');
setDebug(argv.length !== process.argv.length);

// A reader that went away (`clipkit search x | head -1`) ends the command quietly.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit();
  reportError(err);
  process.exit();
});

// Errors that escape the awaited chain (a stray callback, a rejected promise nobody awaited).
process.on('uncaughtException', (err) => {
  reportError(err);
  process.exit();
});
process.on('unhandledRejection', (err) => {
  reportError(err);
  process.exit();
});

const program = new Command('clipkit')
  .description('CLIP for TypeScript: embed, classify and search images and texts')
  .addHelpText('after', '\nAdd --debug (or set CLIPKIT_DEBUG=1) to any command to print the stack trace of an error.')
  // Commander's own messages ("error: unknown option '--x'\n(Did you mean --y?)") as one line.
  .configureOutput({
    writeErr: (s) => process.stderr.write(s),
    outputError: (s, write) => write(`clipkit: ${s.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ').trim()} (see --help)\n`),
  })
  // Mistakes commander finds (unknown option, bad or missing argument) are usage errors like
  // UsageError: exit 2. Set before the commands are registered, which inherit it.
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : EXIT_USAGE));

for (const register of commands) register(program);

try {
  await program.parseAsync(argv);
} catch (err) {
  reportError(err);
}
