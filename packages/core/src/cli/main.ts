// The `clipkit` command line: one module per command, each exporting `register(program)`.
import { Command } from 'commander';
import { EXIT_USAGE } from './action.js';
import { commands } from './commands.js';

const program = new Command('clipkit')
  .description('CLIP for TypeScript: embed, classify and search images and texts')
  .showHelpAfterError()
  .configureOutput({ writeErr: (s) => process.stderr.write(s) })
  // Mistakes commander finds (unknown option, bad or missing argument) are usage errors like
  // UsageError: exit 2. Set before the commands are registered, which inherit it.
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : EXIT_USAGE));

for (const register of commands) register(program);

await program.parseAsync(process.argv);
