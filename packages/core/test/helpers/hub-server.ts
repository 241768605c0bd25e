// A loopback (127.0.0.1 only) stand-in for a Hugging Face hub: the `/api/models/{repo}/revision/
// {rev}` listing and `/{repo}/resolve/{rev}/{file}` with HEAD, Range, LFS-style 302 redirects and
// X-Linked-Size / X-Linked-Etag headers, plus injectable faults.
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, relative } from 'node:path';

export interface FakeRepo {
  dir: string;
  token?: string; // private: requires "Authorization: Bearer <token>"
}

export interface HubFaults {
  /** Files whose first full GET is cut off half-way (the socket is destroyed). */
  cutOnce?: Set<string>;
  /** Files served with one flipped byte while the headers state the true sha256. */
  corrupt?: Set<string>;
  /** Files answered with 503 this many times before succeeding. */
  unavailable?: Map<string, number>;
  /** File-list (API) requests answered with 503 before succeeding. */
  apiUnavailable?: number;
}

export interface FakeHub {
  url: string;
  requests: Array<{ method: string; path: string; range: string | undefined }>;
  close(): Promise<void>;
}

const LFS = /\.(safetensors|onnx|bin)$/;

function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(dir, p).split('\\').join('/'));
    }
  };
  walk(dir);
  return out.sort();
}

export async function startFakeHub(repos: Record<string, FakeRepo>, faults: HubFaults = {}): Promise<FakeHub> {
  const requests: FakeHub['requests'] = [];
  const cut = new Set(faults.cutOnce ?? []);
  const unavailable = new Map(faults.unavailable ?? []);
  let apiUnavailable = faults.apiUnavailable ?? 0;

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const path = decodeURIComponent(url.pathname);
    requests.push({ method: req.method ?? 'GET', path, range: req.headers.range });
    const api = path.match(/^\/api\/models\/([^/]+\/[^/]+)\/revision\/([^/]+)$/);
    const resolve = path.match(/^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/);
    const cdn = path.match(/^\/cdn\/([^/]+\/[^/]+)\/(.+)$/);
    const repoId = api?.[1] ?? resolve?.[1] ?? cdn?.[1];
    const repo = repoId !== undefined ? repos[repoId] : undefined;
    if (!repo) {
      res.writeHead(404).end('Repository not found');
      return;
    }
    if (repo.token !== undefined && req.headers.authorization !== `Bearer ${repo.token}` && !cdn) {
      res.writeHead(401).end('Unauthorized');
      return;
    }
    const files = listFiles(repo.dir);
    if (api && apiUnavailable > 0) {
      apiUnavailable--;
      res.writeHead(503).end('busy');
      return;
    }
    if (api) {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ id: repoId, siblings: files.map((rfilename) => ({ rfilename })) }));
      return;
    }
    const file = (resolve?.[3] ?? cdn?.[2]) as string;
    if (!files.includes(file)) {
      res.writeHead(404, { 'X-Error-Code': 'EntryNotFound' }).end('Entry not found');
      return;
    }
    const bytes = readFileSync(join(repo.dir, file));
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const sha1 = createHash('sha1').update(bytes).digest('hex');
    if (resolve && LFS.test(file)) {
      res.writeHead(302, {
        Location: `/cdn/${repoId}/${file}`,
        'X-Linked-Size': String(bytes.length),
        'X-Linked-Etag': `"${sha256}"`,
        ETag: `"${sha1}"`,
        'Content-Length': '0',
      });
      res.end();
      return;
    }
    const left = unavailable.get(file) ?? 0;
    if (left > 0 && req.method === 'GET') {
      unavailable.set(file, left - 1);
      res.writeHead(503).end('busy');
      return;
    }
    let body = bytes;
    if (faults.corrupt?.has(file)) {
      body = Buffer.from(bytes);
      body[body.length >> 1] = (body[body.length >> 1] ?? 0) ^ 0xff;
    }
    const headers: Record<string, string> = { ETag: LFS.test(file) ? `"${sha256}"` : `"${sha1}"`, 'Accept-Ranges': 'bytes' };
    if (req.method === 'HEAD') {
      res.writeHead(200, { ...headers, 'Content-Length': String(body.length) }).end();
      return;
    }
    const m = req.headers.range?.match(/^bytes=(\d+)-$/);
    if (m) {
      const start = Number(m[1]);
      if (start >= body.length) {
        res.writeHead(416, { 'Content-Range': `bytes */${body.length}` }).end();
        return;
      }
      res.writeHead(206, { ...headers, 'Content-Length': String(body.length - start), 'Content-Range': `bytes ${start}-${body.length - 1}/${body.length}` });
      res.end(body.subarray(start));
      return;
    }
    res.writeHead(200, { ...headers, 'Content-Length': String(body.length) });
    if (cut.has(file)) {
      cut.delete(file);
      res.write(body.subarray(0, body.length >> 1), () => res.socket?.destroy());
      return;
    }
    res.end(body);
  };

  const server: Server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}
