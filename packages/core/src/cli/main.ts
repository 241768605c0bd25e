// The `clipkit` command line: one module per command, each exporting `register(program)`.
import { Command } from 'commander';
import { commands } from './commands.js';

const program = new Command('clipkit')
  .description('CLIP for TypeScript: embed, classify and search images and texts')
  .showHelpAfterError()
  .configureOutput({ writeErr: (s) => process.stderr.write(s) });

for (const register of commands) register(program);

await program.parseAsync(process.argv);
