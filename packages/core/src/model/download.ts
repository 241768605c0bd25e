// One file from an HTTP(S) URL into a path, robustly: streamed to `<dest>.part`, resumed with
// Range after an interruption, retried with backoff on 5xx and dropped connections, checked
// against the expected size and sha256, and renamed into place only when complete and verified.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fsp } from 'node:fs';
import { HubError } from '../errors.js';

export interface FileMeta {
  /** Bytes, when the server says (X-Linked-Size / Content-Length). */
  size?: number;
  /** Lower-case hex sha256, when the server says (X-Linked-Etag of LFS files). */
  sha256?: string;
}

export interface DownloadOptions {
  headers?: Record<string, string>;
  expected?: FileMeta;
  retries?: number; // attempts after the first (default 5)
  retryBaseMs?: number; // first backoff (default 500), doubled each time
  onProgress?: (received: number, total: number | undefined) => void;
  /** Shown in errors: e.g. "openai/clip-vit-base-patch32/config.json". */
  label?: string;
}

class RetryableError extends Error {}

export async function downloadFile(url: string, dest: string, opts: DownloadOptions = {}): Promise<void> {
  const label = opts.label ?? url;
  const part = `${dest}.part`;
  const retries = opts.retries ?? 5;
  const baseMs = opts.retryBaseMs ?? 500;
  for (let attempt = 0; ; attempt++) {
    try {
      await attemptDownload(url, part, label, opts);
      break;
    } catch (err) {
      if (!(err instanceof RetryableError) || attempt >= retries) {
        if (!(err instanceof RetryableError)) await fsp.rm(part, { force: true });
        throw err instanceof RetryableError
          ? new HubError(`download failed after ${attempt + 1} attempts: ${err.message}`, label)
          : err;
      }
      await new Promise((r) => setTimeout(r, baseMs * 2 ** attempt));
    }
  }
  await verify(part, label, opts.expected);
  await fsp.rename(part, dest);
}

async function attemptDownload(url: string, part: string, label: string, opts: DownloadOptions): Promise<void> {
  const have = await fileSize(part);
  const expectedSize = opts.expected?.size;
  if (expectedSize !== undefined && have === expectedSize) return; // complete, verify next
  if (expectedSize !== undefined && have > expectedSize) await fsp.rm(part, { force: true });
  const start = expectedSize !== undefined && have > expectedSize ? 0 : have;

  const headers: Record<string, string> = { ...opts.headers, 'Accept-Encoding': 'identity' };
  if (start > 0) headers.Range = `bytes=${start}-`;
  let res: Response;
  try {
    res = await fetch(url, { headers, redirect: 'follow' });
  } catch (err) {
    throw new RetryableError(`connection failed (${describe(err)})`);
  }
  if (res.status >= 500 || res.status === 429) {
    await res.body?.cancel();
    throw new RetryableError(`server answered ${res.status}`);
  }
  if (res.status === 416 && start > 0) {
    // Our partial file is not a prefix the server recognises: start over.
    await res.body?.cancel();
    await fsp.rm(part, { force: true });
    throw new RetryableError('server rejected the resume range');
  }
  if (res.status !== 200 && res.status !== 206) {
    await res.body?.cancel();
    throw httpError(res.status, label);
  }
  const resumed = res.status === 206 && start > 0;
  const total = resumed ? parseTotal(res.headers.get('content-range')) : numberHeader(res.headers.get('content-length'));
  const out = createWriteStream(part, { flags: resumed ? 'a' : 'w' });
  let received = resumed ? start : 0;
  try {
    if (!res.body) throw new RetryableError('empty response body');
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
      received += chunk.byteLength;
      opts.onProgress?.(received, total ?? expectedSize);
    }
  } catch (err) {
    if (err instanceof RetryableError) throw err;
    throw new RetryableError(`connection dropped after ${received} bytes (${describe(err)})`);
  } finally {
    await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
  }
  const finalTotal = total ?? expectedSize;
  if (finalTotal !== undefined && received < finalTotal) {
    throw new RetryableError(`connection dropped after ${received} of ${finalTotal} bytes`);
  }
}

async function verify(part: string, label: string, expected: FileMeta | undefined): Promise<void> {
  const size = await fileSize(part);
  if (expected?.size !== undefined && size !== expected.size) {
    await fsp.rm(part, { force: true });
    throw new HubError(`size mismatch: expected ${expected.size} bytes, got ${size}`, label);
  }
  if (expected?.sha256 !== undefined) {
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(part)) hash.update(chunk as Buffer);
    const got = hash.digest('hex');
    if (got !== expected.sha256) {
      await fsp.rm(part, { force: true });
      throw new HubError(`sha256 mismatch: expected ${expected.sha256}, got ${got}; the download was discarded`, label);
    }
  }
}

export function httpError(status: number, label: string): HubError {
  if (status === 401 || status === 403) {
    return new HubError(`access denied (HTTP ${status}): the repository may be private or gated; set HF_TOKEN`, label, status);
  }
  if (status === 404) return new HubError('not found on the hub (HTTP 404): check the repository, revision and file name', label, status);
  return new HubError(`unexpected HTTP ${status}`, label, status);
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await fsp.stat(path)).size;
  } catch {
    return 0;
  }
}

function numberHeader(v: string | null): number | undefined {
  if (v === null) return undefined;
  const n = Number(v);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

function parseTotal(contentRange: string | null): number | undefined {
  const m = contentRange?.match(/\/(\d+)\s*$/);
  return m?.[1] !== undefined ? numberHeader(m[1]) : undefined;
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    return cause instanceof Error ? `${err.message}: ${cause.message}` : err.message;
  }
  return String(err);
}
