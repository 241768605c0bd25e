// The import pipeline: scan → read + hash → decode/preprocess (a batch at a time) → encode →
// one catalog transaction per batch. While batch i encodes, batch i+1 decodes and batch i+2's
// files are read, and no more: memory stays bounded by three batches whatever the library's size.
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { constants as fsConstants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { NativeKernels } from '@clipkit/native-cuda';
import { ClipkitError, ImageDecodeError } from '../errors.js';
import type { Precision } from '../types.js';
import type { BatchEntry, Catalog, FileError, FileStat, StoreFormat, WorkQueue } from './catalog/index.js';
import { encodeEmbeddingRows } from './embedding-codec.js';
import type { LibraryEncoder } from './encoder.js';
import { StageClock, type StageTiming } from './stage-clock.js';
import { hasImageExtension, readHead, sniffImage, walk, type ScannedFile } from './scan.js';

export interface ImportOptions {
  /** Images per encoder batch (default 32). */
  batchSize?: number;
  /** Files read ahead of the batcher at once (default 4). */
  readAhead?: number;
  /** Enter hidden folders and files (default false). */
  hidden?: boolean;
  /** Delete catalog rows of files that disappeared instead of marking them missing. */
  prune?: boolean;
  /** Follow symlinks that lead outside the folder too (default: report and skip them). */
  followLinks?: boolean;
  /** Shared (PostgreSQL) catalogs: seconds a claimed batch stays leased without a heartbeat (default 60). */
  leaseSeconds?: number;
}

export interface ImportProgress {
  phase: 'scan' | 'encode' | 'done';
  /** Files found by the scan so far. */
  scanned: number;
  /** Files that needed reading (new or changed), known once the scan ends. */
  total: number;
  /** Of `total`, how many are finished. */
  done: number;
  unchanged: number;
  /** Contents encoded by the model in this run. */
  encoded: number;
  /** Files whose content was already in the catalog (renamed, duplicated, touched). */
  linked: number;
  errors: number;
  elapsedSeconds: number;
  /** Encoded images per second since the encode phase began. */
  imagesPerSecond: number;
  etaSeconds: number | null;
}

export interface ImportSummary {
  root: string;
  /** Image files present under root after the import (ok or error). */
  files: number;
  unchanged: number;
  encoded: number;
  linked: number;
  /** Files that could not be encoded or read in this run, with the reason. */
  errors: FileError[];
  /** Files no longer on disk: marked missing, or deleted with prune. */
  missing: number;
  /** Files skipped because their content is no image. */
  notImages: number;
  /** What this run's encodings were computed in. */
  precision: Precision;
  seconds: number;
  imagesPerSecond: number;
  /** Where the encode phase's time went: busy seconds and items per stage (see StageClock). */
  stages: ImportStages;
}

/** read: files read + hashed; decode, preprocess: images; encode: images; write: catalog batches. */
export interface ImportStages {
  read: StageTiming;
  decode: StageTiming;
  preprocess: StageTiming;
  encode: StageTiming;
  write: StageTiming;
}

export interface ImportEvents {
  progress: [ImportProgress];
}

/**
 * A running import. Listen with `.on('progress', …)` and await it for the summary; listeners
 * added synchronously after `library.import()` see every event.
 */
export class ImportJob extends EventEmitter<ImportEvents> implements PromiseLike<ImportSummary> {
  readonly result: Promise<ImportSummary>;

  constructor(run: (job: ImportJob) => Promise<ImportSummary>) {
    super();
    this.result = Promise.resolve().then(() => run(this));
  }

  then<A = ImportSummary, B = never>(
    onfulfilled?: ((value: ImportSummary) => A | PromiseLike<A>) | null,
    onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.result.then(onfulfilled, onrejected);
  }
}

interface PendingContent {
  hash: string;
  files: FileStat[];
  path: string;
  bytes: Uint8Array | null;
}

type ReadOutcome =
  | { kind: 'image'; stat: FileStat; hash: string; bytes: Uint8Array }
  | { kind: 'broken'; stat: FileStat; hash: string; error: ClipkitError }
  | { kind: 'not-image'; path: string }
  | { kind: 'gone'; path: string }
  | { kind: 'unreadable'; path: string; error: FileError };

/** Test hook: a pause before each batch commit, so crash tests can kill at a chosen batch. */
function slowBatchMs(): number {
  const v = Number(process.env.CLIPKIT_TEST_SLOW_BATCH_MS ?? 0);
  return Number.isFinite(v) && v > 0 ? v : 0;
}

/**
 * Runs one import; the caller holds the catalog's writer lease. A catalog with a work queue is
 * shared: the scan queues what is new or changed, and this importer encodes what it claims
 * alongside any others (see WorkQueue).
 */
export async function runImport(
  job: ImportJob,
  catalog: Catalog,
  encoder: LibraryEncoder,
  kernels: NativeKernels,
  store: StoreFormat,
  dir: string,
  opts: ImportOptions = {},
): Promise<ImportSummary> {
  const queue = catalog.workQueue;
  if (!queue) return importFiles(job, catalog, null, encoder, kernels, store, dir, opts);
  await queue.begin(path.resolve(dir), opts.leaseSeconds ?? 60);
  try {
    return await importFiles(job, catalog, queue, encoder, kernels, store, dir, opts);
  } finally {
    await queue.end().catch(() => undefined); // an unreachable server already failed the import
  }
}

const SCAN_CHUNK = 256;

async function importFiles(
  job: ImportJob,
  catalog: Catalog,
  queue: WorkQueue | null,
  encoder: LibraryEncoder,
  kernels: NativeKernels,
  store: StoreFormat,
  dir: string,
  opts: ImportOptions,
): Promise<ImportSummary> {
  const batchSize = Math.max(1, opts.batchSize ?? 32);
  const readAhead = Math.max(1, opts.readAhead ?? 4);
  const root = path.resolve(dir);
  const started = performance.now();
  const p: ImportProgress = {
    phase: 'scan', scanned: 0, total: 0, done: 0, unchanged: 0, encoded: 0, linked: 0, errors: 0,
    elapsedSeconds: 0, imagesPerSecond: 0, etaSeconds: null,
  };
  let encodeStarted = 0;
  const clocks = { read: new StageClock(), decode: new StageClock(), preprocess: new StageClock(), encode: new StageClock(), write: new StageClock() };
  const emit = () => {
    const now = performance.now();
    p.elapsedSeconds = (now - started) / 1000;
    const encodeSeconds = encodeStarted ? (now - encodeStarted) / 1000 : 0;
    p.imagesPerSecond = encodeSeconds > 0 ? p.encoded / encodeSeconds : 0;
    const filesPerSecond = encodeSeconds > 0 ? p.done / encodeSeconds : 0;
    p.etaSeconds = p.phase === 'done' ? 0 : filesPerSecond > 0 ? (p.total - p.done) / filesPerSecond : null;
    job.emit('progress', { ...p });
  };

  // Phase 1: scan. Unchanged files (same size and mtime) are settled here without reading them.
  const seen = new Set<string>();
  const todo: ScannedFile[] = [];
  const revived: BatchEntry[] = [];
  const errors: FileError[] = [];
  // A folder or link the walk cannot enter is reported, not skipped in silence (a dangling link,
  // ENOENT, is no file at all and stays unreported).
  const onError = (file: string, err: Error) => {
    const outcome = readFailure(file, err);
    if (outcome.kind !== 'unreadable') return;
    errors.push(outcome.error);
    p.errors++;
  };
  // Shared: the scan only queues; importers claim from the queue below. Every importer scans,
  // and queueing is idempotent, so whichever starts first the work is the same.
  let chunk: ScannedFile[] = [];
  const enqueue = async () => {
    if (!queue || chunk.length === 0) return;
    const { changed } = await queue.enqueue(chunk);
    p.unchanged += chunk.length - changed;
    chunk = [];
  };
  for await (const f of walk(dir, { hidden: opts.hidden, followLinks: opts.followLinks, onError })) {
    seen.add(f.path);
    p.scanned++;
    if (queue) {
      chunk.push(f);
      if (chunk.length >= SCAN_CHUNK) await enqueue();
    } else {
      const known = await catalog.file(f.path);
      if (known && known.size === f.size && known.mtimeMs === f.mtimeMs) {
        p.unchanged++;
        if (known.missing) revived.push({ files: [f], contentId: known.contentId });
      } else {
        todo.push(f);
      }
    }
    if (p.scanned % 500 === 0) emit();
  }
  await enqueue();
  if (revived.length > 0) await catalog.writeBatch(revived);
  p.total = todo.length;
  p.phase = 'encode';
  encodeStarted = performance.now();
  emit();

  // The scan got through, so root is a folder: files under it may be served (clipkit serve).
  await catalog.addRoot(root);

  // Phase 2: read, hash, batch, decode, encode, write.
  const inflight = new Map<string, PendingContent>();
  const committing = new Map<string, Promise<void>>();
  // Writes that need no encoder (files of known contents, broken files) ride along with the
  // next batch's transaction, or go alone every 256.
  let links: BatchEntry[] = [];
  let batch: PendingContent[] = [];
  let encoding: Promise<void> = Promise.resolve();
  let notImages = 0;
  const pause = slowBatchMs();

  const flushLinks = async () => {
    if (links.length === 0) return;
    const entries = links;
    links = [];
    await catalog.writeBatch(entries);
  };

  const encodeAndWrite = async (items: PendingContent[], prepared: ReturnType<LibraryEncoder['prepare']>) => {
    const { pixels, rows } = await prepared;
    const good = rows.filter((r) => typeof r === 'number').length;
    // Rows of failed images are encoded too (zeros; cheaper than compacting) and ignored.
    const vectors = good > 0 ? await clocks.encode.time(() => encoder.encodeImages(pixels), good) : new Float32Array(pixels.n * encoder.identity.projectionDim);
    const dim = encoder.identity.projectionDim;
    if (vectors.length !== pixels.n * dim) {
      throw new RangeError(`encoder returned ${vectors.length} values for ${pixels.n} images of dim ${dim}`);
    }
    const encodedRows = encodeEmbeddingRows(vectors, dim, store, kernels);
    if (pause) await new Promise((r) => setTimeout(r, pause));
    let batchErrors = 0;
    const entries: BatchEntry[] = items.map((item, i) => {
      const row = rows[i];
      if (row instanceof ClipkitError || row === undefined) {
        const error = row ?? new ImageDecodeError('decoder returned no result', item.path);
        batchErrors += item.files.length;
        for (const f of item.files) errors.push({ path: f.path, code: error.code, message: error.message });
        return { files: item.files, content: { hash: item.hash, error: { code: error.code, message: error.message } } };
      }
      return { files: item.files, content: { hash: item.hash, embedding: encodedRows[row] as Uint8Array, precision: encoder.precision } };
    });
    entries.push(...links);
    links = [];
    // From here the items' file lists are final: a file with the same bytes that turns up while
    // the commit is under way waits for it and links to the stored content.
    const write = clocks.write.time(() => catalog.writeBatch(entries));
    for (const item of items) {
      inflight.delete(item.hash);
      committing.set(item.hash, write);
    }
    try {
      await write;
    } finally {
      for (const item of items) committing.delete(item.hash);
    }
    for (const item of items) p.done += item.files.length;
    p.encoded += good;
    p.errors += batchErrors;
    emit();
  };

  const dispatch = async () => {
    if (batch.length === 0) return;
    const items = batch;
    batch = [];
    const prepared = encoder.prepare(items.map((it) => ({ path: it.path, bytes: it.bytes as Uint8Array })), clocks);
    prepared.then(() => { for (const it of items) it.bytes = null; }, () => undefined);
    // Backpressure: at most one batch encodes while this one decodes.
    await encoding;
    encoding = encodeAndWrite(items, prepared);
    encoding.catch(() => undefined); // surfaced by the next await
  };

  // 'idle': a shared importer found only work that others hold; what it has gathered goes out
  // now rather than wait (others may wait on those very contents).
  const source: AsyncIterator<ScannedFile | 'idle'> = queue ? claimed(queue, batchSize, (n) => (p.total += n)) : fromArray(todo);
  const reads: Array<Promise<ReadOutcome | 'idle' | null>> = [];
  let exhausted = false;
  const fill = () => {
    while (reads.length < readAhead && !exhausted) {
      reads.push(
        source.next().then((r): ReadOutcome | 'idle' | null | Promise<ReadOutcome> => {
          if (r.done) {
            exhausted = true;
            return null;
          }
          const file = r.value;
          return file === 'idle' ? 'idle' : clocks.read.time(() => readCandidate(file));
        }),
      );
    }
  };
  fill();
  try {
    while (reads.length > 0) {
      const outcome = await (reads.shift() as Promise<ReadOutcome | 'idle' | null>);
      fill();
      if (outcome === null) continue;
      if (outcome === 'idle') {
        await dispatch();
        await encoding;
        await flushLinks();
        continue;
      }
      switch (outcome.kind) {
        case 'not-image':
          seen.delete(outcome.path);
          notImages++;
          p.total--;
          await queue?.settle([outcome.path], 0);
          break;
        case 'gone':
          seen.delete(outcome.path);
          p.total--;
          await queue?.settle([outcome.path], 0);
          break;
        case 'unreadable':
          errors.push(outcome.error);
          p.errors++;
          p.done++;
          await queue?.settle([outcome.path], 1);
          break;
        case 'image':
        case 'broken': {
          const { stat, hash } = outcome;
          // Joining a batch still in flight must happen before any await, while its file list is open.
          const pending = inflight.get(hash);
          if (pending) {
            pending.files.push(stat);
            p.linked++;
            break;
          }
          await committing.get(hash)?.catch(() => undefined); // a failed write fails the import below
          let existing: number | undefined;
          if (queue && outcome.kind === 'image') {
            // Another importer may be encoding the same bytes: whoever claims the hash encodes it,
            // the other comes back to the file later (unless the content is stored by then).
            const claim = await queue.claimContent(hash);
            existing = claim.existing;
            if (existing === undefined && !claim.claimed) {
              await queue.defer(stat.path);
              p.total--;
              break;
            }
          } else {
            existing = await catalog.contentId(hash);
          }
          if (existing !== undefined) {
            links.push({ files: [stat], contentId: existing });
            p.linked++;
            p.done++;
            if (links.length >= 256) await flushLinks();
          } else if (outcome.kind === 'broken') {
            const { error } = outcome;
            errors.push({ path: stat.path, code: error.code, message: error.message });
            links.push({ files: [stat], content: { hash, error: { code: error.code, message: error.message } } });
            p.errors++;
            p.done++;
          } else {
            const item: PendingContent = { hash, files: [stat], path: stat.path, bytes: outcome.bytes };
            inflight.set(hash, item);
            batch.push(item);
            if (batch.length >= batchSize) await dispatch();
          }
        }
      }
    }
  } catch (err) {
    // Reads still in flight may reject too (a claim on a server that went away): they are
    // this same failure, and unawaited they would end the process as unhandled rejections.
    for (const r of reads) r.catch(() => undefined);
    throw err;
  }
  await dispatch();
  await encoding;
  await flushLinks();

  const missing = await catalog.reconcile(root, seen, opts.prune ?? false);
  p.phase = 'done';
  emit();
  const seconds = (performance.now() - started) / 1000;
  const encodeSeconds = (performance.now() - encodeStarted) / 1000;
  return {
    root,
    files: seen.size,
    unchanged: p.unchanged,
    encoded: p.encoded,
    linked: p.linked,
    errors,
    missing,
    notImages,
    precision: encoder.precision,
    seconds,
    imagesPerSecond: encodeSeconds > 0 ? p.encoded / encodeSeconds : 0,
    stages: {
      read: clocks.read.timing(),
      decode: clocks.decode.timing(),
      preprocess: clocks.preprocess.timing(),
      encode: clocks.encode.timing(),
      write: clocks.write.timing(),
    },
  };
}

async function* fromArray(files: readonly ScannedFile[]): AsyncGenerator<ScannedFile> {
  yield* files;
}

const IDLE_POLL_MS = 250;

/** Files claimed batch by batch; waits (yielding 'idle') while others hold the rest. */
async function* claimed(queue: WorkQueue, batchSize: number, onClaim: (n: number) => void): AsyncGenerator<ScannedFile | 'idle'> {
  for (;;) {
    const files = await queue.claim(batchSize);
    if (files.length > 0) {
      onClaim(files.length);
      yield* files;
      continue;
    }
    const { files: outstanding, waitSeconds } = await queue.outstanding();
    if (outstanding === 0) return;
    yield 'idle';
    // Others' work ends when they settle it (any moment) or when a lease runs out: look again
    // soon, since the whole import waits for the last worker to notice (two indexed queries).
    await new Promise((r) => setTimeout(r, Math.min(IDLE_POLL_MS, Math.max(50, waitSeconds * 1000))));
  }
}

/**
 * Reads one new or changed file: its stat (taken before the bytes, so a later write shows up
 * as a change next time), its format by content, and its sha256.
 * sha256 runs at ~2 GB/s with the CPU's SHA extensions, far below the cost of decoding the
 * image, and needs no dependency or collision argument, so a faster non-cryptographic hash
 * would buy nothing measurable.
 */
async function readCandidate(f: ScannedFile): Promise<ReadOutcome> {
  let fh: fs.FileHandle;
  try {
    // O_NONBLOCK: a file replaced by a FIFO since the scan must not block the import.
    fh = await fs.open(f.fsPath, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  } catch (err) {
    return readFailure(f.path, err);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) return { kind: 'gone', path: f.path };
    const stat = { path: f.path, size: st.size, mtimeMs: st.mtimeMs };
    const format = sniffImage(await readHead(fh));
    if (format === null && !hasImageExtension(f.path)) return { kind: 'not-image', path: f.path };
    const bytes = await fh.readFile();
    const hash = createHash('sha256').update(bytes).digest('hex');
    if (format === null) {
      const error = new ImageDecodeError('not an image: its content matches no image format', f.path);
      return { kind: 'broken', stat, hash, error };
    }
    return { kind: 'image', stat, hash, bytes };
  } catch (err) {
    return readFailure(f.path, err);
  } finally {
    await fh.close();
  }
}

function readFailure(file: string, err: unknown): ReadOutcome {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return { kind: 'gone', path: file };
  if (code === 'ELINKOUT') return { kind: 'unreadable', path: file, error: { path: file, code, message: `${file}: ${(err as Error).message}` } };
  return { kind: 'unreadable', path: file, error: { path: file, code: code ?? 'READ', message: `${file}: cannot read (${(err as Error).message})` } };
}
