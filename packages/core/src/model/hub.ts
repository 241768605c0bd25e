// Models on demand: repo ids (and short aliases) resolve to a model directory in a local cache,
// downloaded once from a Hugging Face-compatible hub (`/{repo}/resolve/{rev}/{file}`).
import { existsSync, promises as fsp, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { HubError, ModelFormatError, UsageError } from '../errors.js';
import { downloadFile, httpError, type FileMeta } from './download.js';

export const MODEL_ALIASES: Readonly<Record<string, string>> = {
  'ViT-B-32': 'openai/clip-vit-base-patch32',
  'ViT-B-16': 'openai/clip-vit-base-patch16',
  'ViT-L-14': 'openai/clip-vit-large-patch14',
};
export const DEFAULT_MODEL = 'ViT-B-32';

export interface RepoRef {
  repo: string; // owner/name
  revision: string; // branch, tag or commit (default main)
}

export interface HubOptions {
  endpoint?: string; // default CLIPKIT_HUB_URL, HF_ENDPOINT, https://huggingface.co
  token?: string; // default HF_TOKEN
  cacheDir?: string; // default CLIPKIT_CACHE or ~/.cache/clipkit
  offline?: boolean; // default CLIPKIT_OFFLINE=1
  /** Also fetch onnx/vision_model.onnx + onnx/text_model.onnx when the repo has safetensors. */
  withOnnx?: boolean;
  /** Retries after a 5xx or a dropped connection, per request (default 5 for file downloads, 3 for API calls). */
  retries?: number;
  /** First backoff, doubled each retry (default 500 ms for file downloads, 200 ms for API calls). */
  retryBaseMs?: number;
  onFile?: (file: string, size: number | undefined) => void;
  onProgress?: (file: string, received: number, total: number | undefined) => void;
}

export interface PulledModel {
  ref: RepoRef;
  dir: string;
  files: string[];
  downloaded: string[]; // files fetched by this call (the rest were cached)
}

const REPO_RE = /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/;
const MANIFEST = '.clipkit-complete.json';

export function parseRepoRef(spec: string): RepoRef {
  const at = spec.lastIndexOf('@');
  const name = at > 0 ? spec.slice(0, at) : spec;
  const revision = at > 0 ? spec.slice(at + 1) : 'main';
  const repo = MODEL_ALIASES[name] ?? name;
  if (!REPO_RE.test(repo) || repo.includes('..')) {
    throw new UsageError(`"${spec}" is neither a model directory nor a hub repo id (owner/name[@revision]) or alias (${Object.keys(MODEL_ALIASES).join(', ')})`);
  }
  if (revision === '' || revision.includes('..') || !/^[\w./-]+$/.test(revision)) {
    throw new UsageError(`invalid revision "${revision}" in "${spec}"`);
  }
  return { repo, revision };
}

export function cacheRoot(opts: HubOptions = {}): string {
  return opts.cacheDir ?? process.env.CLIPKIT_CACHE ?? join(homedir(), '.cache', 'clipkit');
}

export function cachedModelDir(ref: RepoRef, opts: HubOptions = {}): string {
  return join(cacheRoot(opts), 'models', ref.repo.replace('/', '--'), ref.revision.replace(/\//g, '--'));
}

function isOffline(opts: HubOptions): boolean {
  return opts.offline ?? ['1', 'true', 'yes'].includes((process.env.CLIPKIT_OFFLINE ?? '').toLowerCase());
}

function endpointOf(opts: HubOptions): string {
  return (opts.endpoint ?? process.env.CLIPKIT_HUB_URL ?? process.env.HF_ENDPOINT ?? 'https://huggingface.co').replace(/\/+$/, '');
}

function authHeaders(opts: HubOptions): Record<string, string> {
  const token = opts.token ?? process.env.HF_TOKEN;
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/**
 * A directory, repo id or alias → a model directory on disk. Directories are returned as they
 * are; repos come from the cache, downloaded first unless offline.
 */
export async function resolveModel(spec: string | undefined, opts: HubOptions = {}): Promise<string> {
  const name = spec ?? DEFAULT_MODEL;
  if (existsSync(name)) {
    if (statSync(name).isDirectory()) return name;
    throw new ModelFormatError('not a model directory: it is a file (--model takes a folder with config.json, a hub repo or an alias)', name);
  }
  if (spec !== undefined && (spec.startsWith('.') || spec.startsWith('/'))) {
    throw new UsageError(`model directory not found: ${spec}`);
  }
  const ref = parseRepoRef(name);
  const dir = cachedModelDir(ref, opts);
  if (existsSync(join(dir, MANIFEST))) return dir;
  return (await pullModel(name, opts)).dir;
}

/** A pulled file whose sha256 the hub stated and the download checked, as it lay on disk then. */
interface HubFileRecord {
  sha256: string;
  size: number;
  mtimeMs: number;
}

function record(file: string, sha256: string): HubFileRecord {
  const st = statSync(file);
  return { sha256, size: st.size, mtimeMs: st.mtimeMs };
}

/**
 * The sha256 the hub stated for `name` in a pulled model directory, when the file is still the
 * one that was checked against it (same size and mtime: a copied or edited file is not).
 */
export async function hubSha256(dir: string, name: string): Promise<string | undefined> {
  try {
    const manifest = JSON.parse(await fsp.readFile(join(dir, MANIFEST), 'utf8')) as { verified?: Record<string, HubFileRecord> };
    const rec = manifest.verified?.[name];
    if (rec === undefined || typeof rec.sha256 !== 'string') return undefined;
    const st = statSync(join(dir, name));
    return st.size === rec.size && st.mtimeMs === rec.mtimeMs ? rec.sha256 : undefined;
  } catch {
    return undefined; // no manifest (a local directory) or a damaged one: hash the file instead
  }
}

/** Download (or complete) a repo's model files into the cache. */
export async function pullModel(spec: string, opts: HubOptions = {}): Promise<PulledModel> {
  const ref = parseRepoRef(spec);
  const dir = cachedModelDir(ref, opts);
  const label = `${ref.repo}@${ref.revision}`;
  if (isOffline(opts)) {
    const manifestPath = join(dir, MANIFEST);
    if (!existsSync(manifestPath)) {
      throw new HubError(`offline and not in the cache (${dir}); run \`clipkit pull ${spec}\` with network access first`, label);
    }
    let files: string[];
    try {
      files = (JSON.parse(await fsp.readFile(manifestPath, 'utf8')) as { files: string[] }).files;
      if (!Array.isArray(files) || !files.every((f) => typeof f === 'string')) throw new Error('no "files" list');
    } catch (err) {
      throw new HubError(`the cache's ${MANIFEST} is damaged (${(err as Error).message}); pull again with network access`, manifestPath, undefined, { cause: err });
    }
    const missing = files.filter((f) => !existsSync(join(dir, f)));
    if (missing.length > 0) throw new HubError(`offline and the cache is missing: ${missing.join(', ')}`, label);
    return { ref, dir, files, downloaded: [] };
  }

  const endpoint = endpointOf(opts);
  const headers = authHeaders(opts);
  const available = await listRepoFiles(endpoint, ref, headers, label, opts);
  const files = selectModelFiles(available, opts, label);
  await fsp.mkdir(dir, { recursive: true });
  const downloaded: string[] = [];
  const verified: Record<string, HubFileRecord> = {};
  for (const file of files) {
    const dest = join(dir, file);
    const url = `${endpoint}/${ref.repo}/resolve/${encodeURIComponent(ref.revision)}/${file.split('/').map(encodeURIComponent).join('/')}`;
    const meta = await fileMeta(url, headers, `${label}/${file}`, opts);
    // Files reach `dest` only by a verified rename, so one of the stated size is already good.
    if (existsSync(dest) && (meta.size === undefined || statSync(dest).size === meta.size)) {
      if (meta.sha256 !== undefined) verified[file] = record(dest, meta.sha256);
      continue;
    }
    await fsp.mkdir(join(dest, '..'), { recursive: true });
    opts.onFile?.(file, meta.size);
    await downloadFile(url, dest, {
      headers,
      expected: meta,
      label: `${label}/${file}`,
      ...(opts.retries !== undefined ? { retries: opts.retries } : {}),
      ...(opts.retryBaseMs !== undefined ? { retryBaseMs: opts.retryBaseMs } : {}),
      onProgress: (received, total) => opts.onProgress?.(file, received, total),
    });
    downloaded.push(file);
    if (meta.sha256 !== undefined) verified[file] = record(dest, meta.sha256);
  }
  await fsp.writeFile(join(dir, MANIFEST), JSON.stringify({ repo: ref.repo, revision: ref.revision, endpoint, files, verified }, null, 1));
  return { ref, dir, files, downloaded };
}

/** The repo's file list, from the hub API (`/api/models/{repo}/revision/{rev}`). */
async function listRepoFiles(endpoint: string, ref: RepoRef, headers: Record<string, string>, label: string, opts: HubOptions): Promise<string[]> {
  const url = `${endpoint}/api/models/${ref.repo}/revision/${encodeURIComponent(ref.revision)}`;
  let res: Response;
  try {
    res = await withRetry(() => fetch(url, { headers }), opts);
  } catch (err) {
    throw new HubError(`cannot reach the hub at ${endpoint} (${err instanceof Error ? err.message : String(err)}); use --offline for cached models`, label);
  }
  if (!res.ok) throw httpError(res.status, label);
  let body: { siblings?: Array<{ rfilename?: unknown }> } | null;
  try {
    body = (await res.json()) as typeof body;
  } catch (err) {
    // A proxy, captive portal or wrong CLIPKIT_HUB_URL answers HTML.
    const type = res.headers.get('content-type') ?? 'no content type';
    throw new HubError(`the hub at ${endpoint} answered something that is not JSON (${type}): is CLIPKIT_HUB_URL / HF_ENDPOINT a Hugging Face hub?`, label, res.status, { cause: err });
  }
  if (!Array.isArray(body?.siblings)) throw new HubError('the hub answered without a file list (siblings)', label);
  return body.siblings.map((s) => s?.rfilename).filter((f): f is string => typeof f === 'string');
}

/** The files a clipkit model directory needs, from what the repo holds. */
function selectModelFiles(available: readonly string[], opts: Pick<HubOptions, 'withOnnx'>, label: string): string[] {
  const has = new Set(available);
  const pick: string[] = [];
  const need = (f: string): void => {
    if (!has.has(f)) throw new HubError(`the repo has no ${f}, which a CLIP model directory needs`, label);
    pick.push(f);
  };
  const optional = (f: string): void => {
    if (has.has(f)) pick.push(f);
  };
  need('config.json');
  optional('preprocessor_config.json');
  if (has.has('vocab.json') && has.has('merges.txt')) pick.push('vocab.json', 'merges.txt');
  else if (has.has('tokenizer.json')) pick.push('tokenizer.json');
  else throw new HubError('the repo has no tokenizer (vocab.json + merges.txt or tokenizer.json)', label);
  optional('tokenizer_config.json');
  optional('special_tokens_map.json');
  const onnx = ['onnx/vision_model.onnx', 'onnx/text_model.onnx'];
  const hasOnnx = onnx.every((f) => has.has(f));
  if (has.has('model.safetensors')) {
    pick.push('model.safetensors');
    if (opts.withOnnx && hasOnnx) pick.push(...onnx);
  } else if (hasOnnx) {
    pick.push(...onnx);
  } else if (has.has('model.safetensors.index.json')) {
    throw new HubError('sharded safetensors checkpoints are not supported yet', label);
  } else {
    throw new HubError('the repo has neither model.safetensors nor onnx/vision_model.onnx + onnx/text_model.onnx', label);
  }
  return pick;
}

/** Size and sha256 as the hub states them, from a HEAD without following redirects. */
async function fileMeta(url: string, headers: Record<string, string>, label: string, opts: HubOptions): Promise<FileMeta> {
  let res: Response;
  try {
    res = await withRetry(() => fetch(url, { method: 'HEAD', headers: { ...headers, 'Accept-Encoding': 'identity' }, redirect: 'manual' }), opts);
  } catch (err) {
    throw new HubError(`cannot reach the hub (${err instanceof Error ? err.message : String(err)})`, label);
  }
  if (res.status >= 400) throw httpError(res.status, label);
  const linkedSize = res.headers.get('x-linked-size');
  const linkedEtag = res.headers.get('x-linked-etag') ?? (res.status < 300 ? res.headers.get('etag') : null);
  const lengthHeader = res.status < 300 ? res.headers.get('content-length') : null;
  const sizeText = linkedSize ?? lengthHeader;
  const meta: FileMeta = {};
  if (sizeText !== null && /^\d+$/.test(sizeText)) meta.size = Number(sizeText);
  // LFS etags are the content's sha256; git blob etags (sha1, 40 hex) are not checkable here.
  const etag = linkedEtag?.replace(/^W\//, '').replace(/"/g, '').toLowerCase();
  if (etag !== undefined && /^[0-9a-f]{64}$/.test(etag)) meta.sha256 = etag;
  return meta;
}

/** An API call, retried on 5xx and dropped connections with the caller's retries and backoff. */
async function withRetry(fn: () => Promise<Response>, opts: Pick<HubOptions, 'retries' | 'retryBaseMs'>): Promise<Response> {
  const retries = opts.retries ?? 3;
  const baseMs = opts.retryBaseMs ?? 200;
  for (let i = 0; ; i++) {
    try {
      const res = await fn();
      if (res.status < 500 || i >= retries) return res;
      await res.body?.cancel();
    } catch (err) {
      if (i >= retries) throw err;
    }
    await new Promise((r) => setTimeout(r, baseMs * 2 ** i));
  }
}
