// `clipkit info`: what this installation can run: the native addon's build, CPU ISA and threads,
// the bf16 path (AMX, AVX512_BF16 or none), CUDA status, and onnxruntime's execution providers.
// Works (and says why) without the addon.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { NativeInfo } from '@clipkit/native-cuda';
import { action } from './action.js';

interface InstallInfo {
  core: string;
  native: NativeInfo | { error: string };
  onnxruntime: { version: string; executionProviders: Array<{ name: string; bundled: boolean }> } | { error: string };
}

function coreVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

async function nativeStatus(): Promise<InstallInfo['native']> {
  try {
    const addon = await import('@clipkit/native-cuda');
    return addon.nativeInfo();
  } catch (err) {
    return { error: `native addon not available: ${(err as Error).message}` };
  }
}

async function onnxStatus(): Promise<InstallInfo['onnxruntime']> {
  try {
    const ort = await import('onnxruntime-node');
    return { version: ort.env.versions.node ?? ort.env.versions.common ?? 'unknown', executionProviders: ort.listSupportedBackends() };
  } catch (err) {
    return { error: `onnxruntime-node not available: ${(err as Error).message}` };
  }
}

async function installInfo(): Promise<InstallInfo> {
  return { core: coreVersion(), native: await nativeStatus(), onnxruntime: await onnxStatus() };
}

/** The path --precision auto/bf16 takes on this CPU, and why a faster one was not taken. */
function bf16Line(cpu: NativeInfo['cpu']): string {
  const path = cpu.bf16 === null ? 'no bf16 path (auto runs fp32; bf16 runs the fp32 kernels on bf16-rounded weights)' : `${cpu.bf16} (auto runs bf16)`;
  return cpu.bf16Note === null ? path : `${path}; ${cpu.bf16Note}`;
}

function formatInfo(info: InstallInfo): string {
  const lines = [`@clipkit/core ${info.core}`];
  const n = info.native;
  if ('error' in n) {
    lines.push(`native addon: ${n.error}`);
  } else {
    lines.push(`native addon: ${n.version}`, `  CPU: ${n.cpu.isa}, ${n.cpu.threads} threads`, `  bf16: ${bf16Line(n.cpu)}`);
    const cuda = !n.cuda.compiled ? 'not compiled in' : n.cuda.available ? 'available' : `compiled, unavailable (${n.cuda.error ?? 'no device'})`;
    lines.push(`  CUDA: ${cuda}`);
    for (const [i, d] of n.cuda.devices.entries()) {
      lines.push(`    device ${i}: ${d.name}, compute ${d.computeCapability}, ${(d.memoryBytes / 2 ** 30).toFixed(1)} GiB`);
    }
  }
  const o = info.onnxruntime;
  if ('error' in o) {
    lines.push(`onnxruntime: ${o.error}`);
  } else {
    const eps = o.executionProviders.map((e) => (e.bundled ? e.name : `${e.name} (needs its provider library)`));
    lines.push(`onnxruntime-node ${o.version}: ${eps.join(', ')}`);
  }
  return `${lines.join('\n')}\n`;
}

export function register(program: Command): void {
  program
    .command('info')
    .description('show the native addon build, CPU ISA and threads, CUDA status and onnxruntime providers')
    .option('--json', 'print one JSON object')
    .option('--db <path|url>', 'also describe this catalog: engine, and how it stores vectors (pgvector halfvec or bytea)')
    .action(
      action(async (opts: { json?: boolean; db?: string }) => {
        const info = await installInfo();
        const catalog = opts.db === undefined ? undefined : await catalogInfo(opts.db);
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(catalog ? { ...info, catalog } : info, null, 2)}\n`);
          return;
        }
        process.stdout.write(formatInfo(info));
        if (catalog) {
          process.stdout.write(
            `catalog ${catalog.path}: ${catalog.engine}, vectors as ${catalog.vectors} (${catalog.detail})` +
              `${catalog.model ? `, model ${catalog.model}` : ', empty'}\n`,
          );
        }
      }),
    );
}

async function catalogInfo(db: string) {
  const { Library } = await import('../library/index.js');
  const library = await Library.openExisting(db);
  try {
    const model = await library.model();
    return { path: library.dbPath, ...library.storage, model: model ? `${model.id} (dim ${model.projectionDim}, ${model.store})` : null };
  } finally {
    await library.close();
  }
}
