// Every command with hostile arguments and files (issue #15). Each case must end in bounded time
// with exit 1 or 2, exactly one line on stderr and no stack trace; a catalog the case must not
// touch keeps its bytes, integrity and rows; a file that is not ours is never written.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Library } from '../src/library/index.js';
import { TINY_TEXT, writeRandomClipModel } from '../src/testing/random-model.js';
import { writeNpy } from '../src/util/npy.js';
import { encodePicture } from './helpers/photo-library.js';
import { scratchDir } from './helpers/tmp-dir.js';

const BIN = path.resolve(import.meta.dirname, '..', 'bin', 'clipkit.js');
/** Generous for a loaded 2-core machine; a hang (the bugs this guards against) never ends. */
const CASE_TIMEOUT_MS = 60_000;
const tmp = scratchDir('hostile');

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function clipkit(args: string[], opts: { stdin?: Buffer | string; env?: Record<string, string>; cwd?: string } = {}): Promise<Run> {
  const started = Date.now();
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: opts.cwd ?? work,
    env: { ...process.env, CLIPKIT_OFFLINE: '1', CLIPKIT_CACHE: path.join(work, 'cache'), ...opts.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.on('error', () => undefined); // a command may exit before reading stdin
  child.stdin.end(opts.stdin ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), CASE_TIMEOUT_MS);
  return new Promise((resolve) =>
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
    }),
  );
}

/** What must not change in a file a failing command was pointed at: its bytes and, for SQLite, integrity and rows. */
function state(file: string): { sha256: string; integrity?: string; rows?: Record<string, number> } {
  const bytes = fs.readFileSync(file);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (!bytes.subarray(0, 16).equals(Buffer.from('SQLite format 3\0'))) return { sha256 };
  const raw = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const tables = raw.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).pluck().all() as string[];
    const rows = Object.fromEntries(tables.map((t) => [t, raw.prepare(`SELECT count(*) FROM "${t}"`).pluck().get() as number]));
    return { sha256, integrity: String(raw.pragma('integrity_check', { simple: true })), rows };
  } finally {
    raw.close();
  }
}

let work: string;
let model: string;
let photos: string;
let catalog: string;
let hub: Server;
let hubUrl: string;

beforeAll(async () => {
  work = tmp();
  model = writeRandomClipModel(path.join(work, 'model'), { seed: 3, initStd: 0.1 }).dir;
  photos = path.join(work, 'photos');
  fs.mkdirSync(photos);
  for (let i = 0; i < 6; i++) fs.writeFileSync(path.join(photos, `p${i}.jpg`), await encodePicture(40 + i, 48, 'jpeg'));
  catalog = path.join(work, 'catalog.db');
  const imported = await clipkit(['import', photos, '--db', catalog, '--model', model, '--json']);
  expect(imported.code, imported.stderr).toBe(0);

  // Hostile files.
  execFileSync('mkfifo', [path.join(work, 'fifo.jpg')]);
  fs.mkdirSync(path.join(work, 'folder.jpg'));
  fs.symlinkSync(path.join(work, 'nowhere.jpg'), path.join(work, 'dangling.jpg'));
  fs.writeFileSync(path.join(work, 'text.db'), 'this is not a database\n'.repeat(100));
  fs.writeFileSync(path.join(work, 'empty.jpg'), '');
  fs.writeFileSync(path.join(work, 'templates.txt'), '');
  fs.writeFileSync(path.join(work, 'one-text.jsonl'), '"a photo"\n');
  // A model whose config asks for a billion layers, and a model "dir" that is a file.
  const bomb = path.join(work, 'bomb');
  fs.cpSync(model, bomb, { recursive: true });
  const config = JSON.parse(fs.readFileSync(path.join(bomb, 'config.json'), 'utf8')) as { text_config: Record<string, unknown> };
  config.text_config.num_hidden_layers = 1e9;
  fs.writeFileSync(path.join(bomb, 'config.json'), JSON.stringify(config));
  const emptyConfig = path.join(work, 'empty-config');
  fs.cpSync(model, emptyConfig, { recursive: true });
  fs.writeFileSync(path.join(emptyConfig, 'config.json'), '{}');
  fs.rmSync(path.join(emptyConfig, 'preprocessor_config.json'));

  // Catalogs that are not ours, or damaged, or empty; a model with the same architecture but
  // other weights (another seed), as OpenAI's and LAION's ViT-B/32 are.
  for (const [name, sql] of [['foreign.db', 'CREATE TABLE foo (x)'], ['files-table.db', 'CREATE TABLE files (x)']] as const) {
    const raw = new Database(W(name));
    raw.exec(sql);
    raw.close();
  }
  fs.copyFileSync(catalog, W('cut.db'));
  fs.truncateSync(W('cut.db'), Math.floor(fs.statSync(catalog).size / 2));
  fs.mkdirSync(W('nothing'));
  expect((await clipkit(['import', W('nothing'), '--db', W('empty.db'), '--model', model, '--json'])).code).toBe(0);
  writeRandomClipModel(W('other-weights'), { seed: 4, initStd: 0.1 });

  // Tensors whose headers promise more than the file holds; weights that are a FIFO.
  writeNpyHeader(W('pixels-bomb.npy'), '<f4', '(1000000000, 3, 32, 32)');
  writeNpyHeader(W('ids-bomb.npy'), '<i8', '(9007199254740993, 7)');
  writeNpy(W('ids-oov.npy'), new Int32Array(TINY_TEXT.contextLength).fill(100_000), [1, TINY_TEXT.contextLength]);
  const fifoWeights = W('fifo-weights');
  fs.cpSync(model, fifoWeights, { recursive: true });
  fs.rmSync(path.join(fifoWeights, 'model.safetensors'));
  execFileSync('mkfifo', [path.join(fifoWeights, 'model.safetensors')]);

  fs.cpSync(model, W('fifo-vocab'), { recursive: true });
  fs.rmSync(W('fifo-vocab', 'vocab.json'));
  execFileSync('mkfifo', [W('fifo-vocab', 'vocab.json')]);
  const fifoOnnx = W('fifo-onnx');
  fs.cpSync(model, fifoOnnx, { recursive: true });
  fs.rmSync(path.join(fifoOnnx, 'model.safetensors'));
  fs.mkdirSync(path.join(fifoOnnx, 'onnx'));
  for (const f of ['vision_model.onnx', 'text_model.onnx']) execFileSync('mkfifo', [path.join(fifoOnnx, 'onnx', f)]);

  // A hub that answers HTML, like a captive portal.
  hub = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><title>Sign in</title>');
  });
  await new Promise<void>((resolve) => hub.listen(0, '127.0.0.1', resolve));
  hubUrl = `http://127.0.0.1:${(hub.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => hub?.close(resolve));
});

/** A .npy whose header claims `shape` over 64 bytes of data. */
function writeNpyHeader(file: string, descr: string, shape: string): void {
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  header += ' '.repeat((64 - ((10 + header.length + 1) % 64)) % 64) + '\n';
  const prefix = Buffer.from([0x93, ...Buffer.from('NUMPY'), 1, 0, header.length & 0xff, header.length >> 8]);
  fs.writeFileSync(file, Buffer.concat([prefix, Buffer.from(header), Buffer.alloc(64)]));
}

interface Case {
  name: string;
  args: () => string[];
  rc: 1 | 2;
  /** The one stderr line must match. */
  says?: RegExp;
  stdin?: Buffer | string;
  env?: () => Record<string, string>;
  /** Catalog files the command must leave exactly as they were. */
  untouched?: () => string[];
}

const W = (...p: string[]) => path.join(work, ...p);
const lib = () => ['--db', catalog, '--model', model];
const classify = (...a: string[]) => ['classify', ...a, '--model', model, '--labels', 'a,b'];

const cases: Case[] = [
  // Numeric options at 0, -1, 2^53, NaN, and just past their limits.
  ...['0', '-1', '9007199254740992', 'NaN', '1025', '1e3', '2.5'].map((k): Case => ({
    name: `search --k ${k}`,
    args: () => ['search', 'x', '--k', k, ...lib()],
    rc: 2,
    says: /--k.*integer from 1 to 1024/,
    untouched: () => [catalog],
  })),
  ...['0', '1001', 'NaN'].map((e): Case => ({
    name: `search --ef-search ${e}`,
    args: () => ['search', 'x', '--index', 'hnsw', '--ef-search', e, ...lib()],
    rc: 2,
    says: /--ef-search.*integer from 1 to 1000/,
    untouched: () => [catalog],
  })),
  { name: 'search --ef-search without --index hnsw', args: () => ['search', 'x', '--ef-search', '200', ...lib()], rc: 2, says: /--ef-search applies to --index hnsw only/, untouched: () => [catalog] },
  ...['0', '-1', '1000000', 'NaN', '9007199254740993'].map((n): Case => ({
    name: `classify --threads ${n}`,
    args: () => classify(path.join(photos, 'p0.jpg'), '--threads', n),
    rc: 2,
    says: /--threads.*integer from 1 to 1024/,
  })),
  { name: 'classify --batch-size 0', args: () => classify(path.join(photos, 'p0.jpg'), '--batch-size', '0'), rc: 2, says: /--batch-size/ },
  ...['0', '1e10', '86401'].map((s): Case => ({ name: `import --lease-seconds ${s}`, args: () => ['import', photos, ...lib(), '--lease-seconds', s, '--json'], rc: 2, says: /--lease-seconds.*integer from 1 to 86400/, untouched: () => [catalog] })),
  { name: 'import --batch-size 1e9', args: () => ['import', photos, ...lib(), '--batch-size', '1000000000', '--json'], rc: 2, says: /--batch-size/, untouched: () => [catalog] },
  { name: 'encode --threads -1', args: () => ['encode', '--model', model, '--texts-jsonl', W('templates.txt'), '--threads', '-1', '--out', W('o.npy')], rc: 2, says: /--threads must be an integer from 1 to 1024/ },
  { name: 'encode --batch-size NaN', args: () => ['encode', '--model', model, '--texts-jsonl', W('templates.txt'), '--batch-size', 'NaN', '--out', W('o.npy')], rc: 2, says: /--batch-size/ },
  ...['0', '-1', '30000', '100000', '9007199254740992'].map((s): Case => ({
    name: `preprocess --size ${s}`,
    args: () => ['preprocess', path.join(photos, 'p0.jpg'), '--size', s, '--out', W('o.npy')],
    rc: 2,
    says: /--size must be an integer from 1 to 8192/,
  })),
  ...['1', '-1', '100000', 'NaN'].map((n): Case => ({
    name: `tokenize --context-length ${n}`,
    args: () => ['tokenize', '--vocab', model, '--context-length', n],
    rc: 2,
    says: /--context-length must be an integer from 2 to 4096/,
  })),
  ...['NaN', '-1', '2', '1e309'].map((t): Case => ({
    name: `duplicates --threshold ${t}`,
    args: () => ['duplicates', '--threshold', t, '--db', catalog],
    rc: 2,
    says: /--threshold/,
    untouched: () => [catalog],
  })),
  ...['', '0x1', 'Infinity'].map((t): Case => ({
    name: `duplicates --threshold '${t}'`,
    args: () => ['duplicates', '--threshold', t, '--db', catalog],
    rc: 2,
    says: /--threshold/,
    untouched: () => [catalog],
  })),
  ...['0', '1e3', '0x10', ''].map((k): Case => ({ name: `classify --top '${k}'`, args: () => classify(path.join(photos, 'p0.jpg'), '--top', k), rc: 2, says: /--top.*integer from 1 to/ })),
  ...['-1', '65536', 'NaN', '', '0x50'].map((p): Case => ({ name: `serve --port ${p}`, args: () => ['serve', '--db', catalog, '--port', p], rc: 2, says: /--port/, untouched: () => [catalog] })),
  { name: 'unknown option', args: () => ['search', 'x', '--kk', '3', ...lib()], rc: 2, says: /unknown option '--kk'/, untouched: () => [catalog] },

  // Paths that are FIFOs, folders, dangling links, empty or missing files.
  { name: 'classify FIFO', args: () => classify(W('fifo.jpg')), rc: 1, says: /fifo\.jpg.*FIFO/ },
  { name: 'search --image FIFO', args: () => ['search', '--image', W('fifo.jpg'), ...lib()], rc: 2, says: /fifo\.jpg.*FIFO/, untouched: () => [catalog] },
  { name: 'search image: FIFO', args: () => ['search', `image:${W('fifo.jpg')}`, ...lib()], rc: 2, says: /fifo\.jpg.*FIFO/, untouched: () => [catalog] },
  { name: 'preprocess FIFO', args: () => ['preprocess', W('fifo.jpg'), '--out', W('o.npy')], rc: 1, says: /fifo\.jpg.*FIFO/ },
  { name: 'encode --images FIFO', args: () => ['encode', '--model', model, '--images', W('fifo.jpg'), '--out', W('o.npy')], rc: 1, says: /fifo\.jpg.*FIFO/ },
  { name: 'encode --pixels FIFO', args: () => ['encode', '--model', model, '--pixels', W('fifo.jpg'), '--out', W('o.npy')], rc: 1, says: /fifo\.jpg.*FIFO/ },
  { name: 'encode --texts-jsonl FIFO', args: () => ['encode', '--model', model, '--texts-jsonl', W('fifo.jpg'), '--out', W('o.npy')], rc: 2, says: /fifo\.jpg.*FIFO/ },
  { name: 'classify --templates FIFO', args: () => classify(path.join(photos, 'p0.jpg'), '--templates', W('fifo.jpg')), rc: 2, says: /--templates.*FIFO/ },
  { name: 'classify a folder', args: () => classify(W('folder.jpg')), rc: 1, says: /folder\.jpg.*directory/ },
  { name: 'classify a dangling link', args: () => classify(W('dangling.jpg')), rc: 1, says: /dangling\.jpg.*ENOENT/ },
  { name: 'classify an empty file', args: () => classify(W('empty.jpg')), rc: 1, says: /empty\.jpg: empty file/ },
  { name: 'classify --templates empty file', args: () => classify(path.join(photos, 'p0.jpg'), '--templates', W('templates.txt')), rc: 2, says: /has no templates/ },
  { name: 'import a FIFO as the folder', args: () => ['import', W('fifo.jpg'), ...lib(), '--json'], rc: 2, says: /fifo\.jpg: not a folder/, untouched: () => [catalog] },
  { name: 'import a missing folder', args: () => ['import', W('absent'), '--db', W('never.db'), '--model', model, '--json'], rc: 2, says: /absent: cannot read folder \(ENOENT\)/ },

  // Models: a config bomb, a "dir" that is a file, a config that does not fit the weights.
  { name: 'config num_hidden_layers 1e9', args: () => ['classify', path.join(photos, 'p0.jpg'), '--model', W('bomb'), '--labels', 'a,b'], rc: 1, says: /num_hidden_layers must be an integer from 0 to 256/ },
  { name: '--model is a file', args: () => ['classify', path.join(photos, 'p0.jpg'), '--model', path.join(photos, 'p0.jpg'), '--labels', 'a,b'], rc: 1, says: /p0\.jpg: not a model directory: it is a file/ },
  { name: 'config.json is {}', args: () => ['classify', path.join(photos, 'p0.jpg'), '--model', W('empty-config'), '--labels', 'a,b'], rc: 1, says: /is config\.json the one that came with these weights\?/ },
  { name: 'pull a path, not a repo', args: () => ['pull', '../../etc'], rc: 2, says: /"\.\.\/\.\.\/etc" is neither a model directory nor a hub repo id/ },
  { name: 'encode --pixels claiming 10^9 images', args: () => ['encode', '--model', model, '--pixels', W('pixels-bomb.npy'), '--out', W('o.npy')], rc: 1, says: /pixels-bomb\.npy: not a supported \.npy file: shape \[1000000000, 3, 32, 32\] needs/ },
  { name: 'encode --input-ids with a 2^53+1 shape', args: () => ['encode', '--model', model, '--input-ids', W('ids-bomb.npy'), '--out', W('o.npy')], rc: 1, says: /ids-bomb\.npy: not a supported \.npy file: shape is too large/ },
  // Output files: write(2) errors carry no path, so the file must be named by whoever writes it.
  { name: 'encode --out a full device', args: () => ['encode', '--model', model, '--texts-jsonl', W('one-text.jsonl'), '--out', '/dev/full'], rc: 1, says: /\/dev\/full: cannot write \(ENOSPC\)/ },
  { name: 'preprocess --out a full device', args: () => ['preprocess', path.join(photos, 'p0.jpg'), '--out', '/dev/full'], rc: 1, says: /\/dev\/full: cannot write \(ENOSPC\)/ },
  { name: 'encode --out a folder', args: () => ['encode', '--model', model, '--texts-jsonl', W('one-text.jsonl'), '--out', W('folder.jpg')], rc: 1, says: /folder\.jpg: cannot write \(EISDIR\)/ },
  { name: 'encode --input-ids with an id outside the vocabulary', args: () => ['encode', '--model', model, '--input-ids', W('ids-oov.npy'), '--out', W('o.npy')], rc: 2, says: /--input-ids .*ids-oov\.npy: ids\[0\]\[0\] = 100000 is outside the vocabulary/ },
  {
    name: 'model.safetensors is a FIFO',
    args: () => ['search', 'x', '--db', catalog, '--model', W('fifo-weights'), '--backend', 'native'],
    rc: 1,
    says: /model\.safetensors: cannot open \(not a regular file: a FIFO\)/,
    untouched: () => [catalog],
  },
  { name: 'vocab.json is a FIFO', args: () => ['classify', path.join(photos, 'p0.jpg'), '--labels', 'a,b', '--model', W('fifo-vocab')], rc: 1, says: /vocab\.json: cannot read: not a regular file/ },
  // onnxruntime opens its files itself; the FIFO must be refused before it does.
  ...(['search', 'classify'] as const).map((cmd): Case => ({
    name: `onnx/vision_model.onnx is a FIFO (${cmd})`,
    args: () => (cmd === 'search' ? ['search', 'x', '--db', catalog] : ['classify', path.join(photos, 'p0.jpg'), '--labels', 'a,b']).concat(['--model', W('fifo-onnx'), '--backend', 'onnx']),
    rc: 1,
    says: /vision_model\.onnx: cannot open \(not a regular file: a FIFO\)/,
    untouched: () => (cmd === 'search' ? [catalog] : []),
  })),
  { name: 'pull from a hub that answers HTML', args: () => ['pull', 'owner/model'], env: () => ({ CLIPKIT_OFFLINE: '', CLIPKIT_HUB_URL: hubUrl }), rc: 1, says: /answered something that is not JSON \(text\/html\)/ },

  // stdin.
  { name: 'tokenize invalid UTF-8 in a JSON string', args: () => ['tokenize', '--vocab', model], stdin: Buffer.from([0x22, 0x63, 0x61, 0x66, 0xe9, 0x22, 0x0a]), rc: 2, says: /stdin line 1: not valid UTF-8/ },
  { name: 'tokenize a vocab FIFO', args: () => ['tokenize', '--vocab', W('fifo.jpg')], rc: 1, says: /fifo\.jpg/ },


  // Catalogs: not files, not SQLite, another program's SQLite, damaged, empty, absent.
  ...(['search', 'duplicates', 'serve', 'import'] as const).flatMap((cmd): Case[] => {
    const run = (db: string) => (cmd === 'import' ? ['import', photos, '--db', db, '--model', model, '--json'] : cmd === 'search' ? ['search', 'x', '--db', db] : cmd === 'serve' ? ['serve', '--db', db, '--port', '0'] : ['duplicates', '--db', db]);
    return [
      { name: `${cmd} --db a folder`, args: () => run(W('folder.jpg')), rc: 1, says: /folder\.jpg: is a directory, not a catalog file/ },
      { name: `${cmd} --db a FIFO`, args: () => run(W('fifo.jpg')), rc: 1, says: /fifo\.jpg: is a FIFO, not a catalog file/ },
      { name: `${cmd} --db a text file`, args: () => run(W('text.db')), rc: 1, says: /text\.db: not a clipkit catalog \(not an SQLite database\)/, untouched: () => [W('text.db')] },
      { name: `${cmd} --db another program's SQLite file`, args: () => run(W('foreign.db')), rc: 1, says: /foreign\.db: an SQLite database that is not a clipkit catalog \(tables: foo\); left untouched/, untouched: () => [W('foreign.db')] },
      { name: `${cmd} --db SQLite with a files table`, args: () => run(W('files-table.db')), rc: 1, says: /files-table\.db: .*not a clipkit catalog \(tables: files\)/, untouched: () => [W('files-table.db')] },
    ];
  }),
  // A pseudo file system has no free blocks (it has no blocks): that is no full disk.
  { name: 'import --db a /proc file', args: () => ['import', photos, '--db', '/proc/version', '--model', model, '--json'], rc: 1, says: /^clipkit: \/proc\/version: (?!.*disk is full)/ },
  { name: 'search a truncated catalog', args: () => ['search', 'x', '--db', W('cut.db'), '--model', model], rc: 1, says: /cut\.db: the catalog file is damaged.*SQLITE_CORRUPT/ },
  { name: 'search an empty catalog', args: () => ['search', 'x', '--db', W('empty.db')], rc: 1, says: /empty\.db: holds no searchable images yet/, untouched: () => [W('empty.db')] },
  { name: 'search an absent catalog', args: () => ['search', 'x', '--db', W('absent.db')], rc: 2, says: /no catalog at .*absent\.db/ },

  // A model of the same architecture with other weights: refused, naming both.
  { name: 'search with other weights', args: () => ['search', 'x', '--db', catalog, '--model', W('other-weights')], rc: 1, says: /refusing other-weights \(weights sha256 [0-9a-f]{12}, .*other weights/, untouched: () => [catalog] },
  { name: 'import with other weights', args: () => ['import', photos, '--db', catalog, '--model', W('other-weights'), '--json'], rc: 1, says: /built with model model \(weights sha256 [0-9a-f]{12}, .*refusing other-weights/, untouched: () => [catalog] },
];

describe('clipkit with hostile input: one line, exit 1 or 2, nothing damaged', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const guarded = c.untouched?.() ?? [];
    const before = guarded.map(state);
    const r = await clipkit(c.args(), { stdin: c.stdin, env: c.env?.() });
    expect(r.signal, `killed after ${r.ms} ms: a hang`).toBeNull();
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const lines = r.stderr.split('\n').filter((l) => l !== '');
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^clipkit: /);
    if (c.says) expect(lines[0]).toMatch(c.says);
    expect(r.code, r.stderr).toBe(c.rc);
    guarded.forEach((file, i) => expect(state(file), file).toEqual(before[i]));
  });

  it('creates no catalog (nor its lock) for a search of an absent one or an import of a missing folder', () => {
    for (const f of ['absent.db', 'absent.db.lock', 'never.db', 'never.db.lock']) expect(fs.existsSync(W(f)), f).toBe(false);
  });

  it('ends quietly when the reader of its output goes away (EPIPE)', async () => {
    const child = spawn(process.execPath, [BIN, 'tokenize', '--vocab', model], { cwd: work, stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.once('data', () => child.stdout.destroy());
    child.stdin.on('error', () => undefined);
    child.stdin.end(Array.from({ length: 50_000 }, (_, i) => `"text number ${i}"`).join('\n'));
    const code = await new Promise((resolve) => child.on('close', resolve));
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });

  it('prints the stack trace only with --debug or CLIPKIT_DEBUG=1', async () => {
    const args = classify(W('fifo.jpg'));
    const plain = await clipkit(args);
    expect(plain.stderr).not.toMatch(/\n\s+at /);
    for (const r of [await clipkit([...args, '--debug']), await clipkit(args, { env: { CLIPKIT_DEBUG: '1' } })]) {
      expect(r.code).toBe(1);
      expect(r.stderr.split('\n')[0]).toMatch(/^clipkit: .*FIFO/);
      expect(r.stderr).toMatch(/\n\s+at /);
    }
  });
});

describe('file names, links and disks that fight back', () => {
  it('imports names that are not UTF-8, shows them escaped, and opens them given as raw bytes', async () => {
    const dir = W('latin1');
    fs.mkdirSync(dir);
    const raw = Buffer.concat([Buffer.from(`${dir}/caf`), Buffer.from([0xe9]), Buffer.from('.jpg')]);
    fs.copyFileSync(path.join(photos, 'p1.jpg'), raw);
    const db = W('latin1.db');
    const r = await clipkit(['import', dir, '--db', db, '--model', model, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ files: 1, errorCount: 0 });
    const found = await clipkit(['search', '--image', path.join(photos, 'p1.jpg'), '--db', db, '--k', '1', '--json']);
    expect(found.code, found.stderr).toBe(0);
    const hit = (JSON.parse(found.stdout) as Array<{ id: number; path: string }>)[0];
    expect(hit?.path).toBe(`${dir}/caf\\xe9.jpg`);
    // Reopened by what was stored (what `clipkit serve` hands out).
    const library = await Library.openExisting(db);
    try {
      const opened = await library.openFile(hit?.id as number);
      try {
        expect((await opened.handle.readFile()).equals(fs.readFileSync(path.join(photos, 'p1.jpg')))).toBe(true);
      } finally {
        await opened.handle.close();
      }
      expect((await library.file(hit?.id as number)).width).toBe(48);
    } finally {
      await library.close();
    }
    // The name as a shell passes it: bytes in argv (Node can only pass strings, so sh builds the
    // argument with printf), recovered by clipkit from /proc/self/cmdline.
    const script = `exec "$0" "$1" classify "$(printf '%s/caf\\351.jpg' "$2")" --model "$3" --labels a,b --json`;
    const child = spawn('sh', ['-c', script, process.execPath, BIN, dir, model], { cwd: work });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise((resolve) => child.on('close', resolve));
    expect(code, err).toBe(0);
    expect((JSON.parse(out) as Array<{ image: string }>)[0]?.image).toBe(`${dir}/caf\\xe9.jpg`);
  });

  it('escapes control characters of file names in everything it prints for a person, not in JSON', async () => {
    const dir = W('controls');
    fs.mkdirSync(dir);
    const red = 'red\x1b[31m\n.jpg';
    const tab = 'tab\tcopy\r.jpg';
    const bad = 'bad\x1b]0;title\x07\u009b2J.jpg';
    fs.copyFileSync(path.join(photos, 'p1.jpg'), path.join(dir, red));
    fs.copyFileSync(path.join(photos, 'p1.jpg'), path.join(dir, tab));
    fs.writeFileSync(path.join(dir, bad), Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]));
    const db = W('ctl\x1b[2K.db');
    const shown = { red: 'red\\x1b[31m\\x0a.jpg', tab: 'tab\\x09copy\\x0d.jpg', bad: 'bad\\x1b]0;title\\x07\\xc2\\x9b2J.jpg', db: 'ctl\\x1b[2K.db' };
    const runs = {
      import: await clipkit(['import', dir, '--db', db, '--model', model]),
      search: await clipkit(['search', '--image', path.join(photos, 'p1.jpg'), '--db', db, '--k', '2']),
      duplicates: await clipkit(['duplicates', '--db', db]),
      status: await clipkit(['status', '--db', db]),
      error: await clipkit(['classify', path.join(dir, bad), '--model', model, '--labels', 'a,b']),
    };
    for (const [name, r] of Object.entries(runs)) {
      // Nothing but line ends reaches the terminal as a control character.
      expect(r.stdout + r.stderr, name).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
      expect(r.code, `${name}: ${r.stderr}`).toBe(name === 'error' ? 1 : 0);
    }
    expect(runs.import.stderr).toContain(`  error: ${dir}/${shown.bad}: `);
    expect(runs.search.stdout.split('\n').filter((l) => l !== '').map((l) => l.replace(/^\S+ {2}/, '')).sort()).toEqual([`${dir}/${shown.red}`, `${dir}/${shown.tab}`]);
    expect(runs.duplicates.stdout).toContain(`  ${dir}/${shown.red}\n`);
    expect(runs.duplicates.stdout).toContain(`  ${dir}/${shown.tab}\n`);
    expect(runs.status.stdout.split('\n')[0]).toMatch(new RegExp(`^${W(shown.db).replace(/[\\[\]().]/g, '\\$&')} \\(sqlite`));
    expect(runs.error.stderr).toMatch(new RegExp(`^clipkit: ${path.join(dir, shown.bad).replace(/[\\[\]().]/g, '\\$&')}: `));
    // --json keeps the real names.
    const json = await clipkit(['search', '--image', path.join(photos, 'p1.jpg'), '--db', db, '--k', '2', '--json']);
    expect((JSON.parse(json.stdout) as Array<{ path: string }>).map((h) => h.path).sort()).toEqual([path.join(dir, red), path.join(dir, tab)]);
  });

  it('reports a link out of the folder (up -> ..) and skips it unless --follow-links', async () => {
    const dir = W('linked');
    fs.mkdirSync(dir);
    fs.copyFileSync(path.join(photos, 'p2.jpg'), path.join(dir, 'own.jpg'));
    fs.symlinkSync('..', path.join(dir, 'up'));
    const r = await clipkit(['import', dir, '--db', W('linked.db'), '--model', model, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout) as { files: number; errors: Array<{ path: string; code: string; message: string }> };
    expect(summary.files).toBe(1);
    expect(summary.errors).toEqual([{ path: path.join(dir, 'up'), code: 'ELINKOUT', message: expect.stringMatching(/symlink leads outside the imported folder/) as unknown as string }]);
  });

  describe('a full disk and a read-only folder (tmpfs)', () => {
    const mounts: string[] = [];
    let why = '';
    const mount = (dir: string, size: string) => {
      fs.mkdirSync(dir, { recursive: true });
      try {
        execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
        mounts.push(dir);
        return true;
      } catch (err) {
        why = String((err as { stderr?: Buffer }).stderr ?? err).trim();
        return false;
      }
    };
    afterAll(() => {
      for (const m of mounts) execFileSync('umount', [m]);
    });

    it('refuses with one line when the disk is full, and loses no row', async (ctx) => {
      const full = W('full');
      if (!mount(full, '1m')) {
        console.warn(`[cli-hostile] full-disk case skipped: cannot mount a tmpfs here (${why})`);
        ctx.skip();
      }
      const db = path.join(full, 'catalog.db');
      fs.copyFileSync(catalog, db);
      // Fill the disk, then give back 40 KiB: room to open the catalog, none for the new rows.
      const fd = fs.openSync(path.join(full, 'fill'), 'w');
      try {
        const block = Buffer.alloc(4096);
        for (;;) fs.writeSync(fd, block);
      } catch (err) {
        expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
      } finally {
        fs.closeSync(fd);
      }
      fs.truncateSync(path.join(full, 'fill'), fs.statSync(path.join(full, 'fill')).size - 40 * 1024);
      const more = W('more');
      fs.mkdirSync(more);
      for (let i = 0; i < 30; i++) fs.writeFileSync(path.join(more, `m${i}.png`), await encodePicture(900 + i, 48, 'png'));
      const before = state(db);
      const r = await clipkit(['import', more, '--db', db, '--model', model, '--json']);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/catalog\.db: the disk is full/);
      const after = state(db);
      expect(after.integrity).toBe('ok');
      expect(after.rows).toEqual(before.rows);
    });

    it('says the folder is read-only', async (ctx) => {
      const ro = W('ro');
      if (!mount(ro, '4m')) {
        console.warn(`[cli-hostile] read-only case skipped: cannot mount a tmpfs here (${why})`);
        ctx.skip();
      }
      fs.copyFileSync(catalog, path.join(ro, 'catalog.db'));
      execFileSync('mount', ['-o', 'remount,ro', ro]);
      for (const args of [['search', 'x', '--db', path.join(ro, 'catalog.db')], ['import', photos, '--db', path.join(ro, 'new.db'), '--model', model, '--json']]) {
        const r = await clipkit(args);
        expect(r.code, r.stderr).toBe(1);
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
        expect(r.stderr).toMatch(/folder .*ro is read-only \(EROFS\)/);
      }
    });
  });
});
