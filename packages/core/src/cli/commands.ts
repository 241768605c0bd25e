// Every CLI command, in the order `clipkit --help` lists them. Add a command by creating
// `src/cli/<name>.ts` exporting `register(program: Command): void` and listing it here.
import type { Command } from 'commander';
import { register as encode } from './encode.js';
import { register as info } from './info.js';
import { register as classify } from './classify.js';
import { register as pull } from './pull.js';
import { register as preprocess } from './preprocess.js';
import { register as importPhotos } from './import.js';
import { register as search } from './search.js';
import { register as duplicates } from './duplicates.js';
import { register as status } from './status.js';
import { register as catalog } from './catalog.js';
import { register as tokenize } from './tokenize.js';
import { register as serve } from './serve.js';

export const commands: Array<(program: Command) => void> = [encode, classify, pull, info, preprocess, importPhotos, search, duplicates, status, catalog, serve, tokenize];
