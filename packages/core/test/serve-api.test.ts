// `clipkit serve`'s JSON API over real HTTP on a generated catalog (tiny seeded model, generated
// photo library): every endpoint, equality with `clipkit search --json`, thumbnails' ETag/304,
// and the security cases (traversal, symlink escape, foreign Host, token, oversized uploads).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Library } from '../src/library/index.js';
import { serve, type ServeHandle } from '../src/serve/index.js';
import { defaultThumbnailDir } from '../src/serve/thumbs.js';
import { freshDatabase, sql } from '../src/testing/postgres.js';
import { writeRandomClipModel } from '../src/testing/random-model.js';
import { encodePicture, makePhotoLibrary, type PhotoLibrary } from './helpers/photo-library.js';
import { blackPng } from './helpers/png16.js';
import { rawRequest } from './helpers/serve-client.js';
import { adminUrl, skipWithoutPostgres } from './helpers/postgres.js';
import { scratchDir } from './helpers/tmp-dir.js';

const BIN = path.resolve(import.meta.dirname, '..', 'bin', 'clipkit.js');
const tmp = scratchDir('serve-api');
// Issue #14: serve works over either catalog, so every case runs over both (Postgres when a
// server is available; .ci/postgres.sh starts one, and CI must have it).
const skipPostgres = skipWithoutPostgres('serve-api over PostgreSQL');

for (const engine of ['sqlite', 'postgres'] as const) {
  describe.skipIf(engine === 'postgres' && skipPostgres)(`serve over a ${engine} catalog`, () => {
    let work: string;
    let db: string;
    let lib: PhotoLibrary;
    let library: Library;
    let server: ServeHandle;
    let outsideLink: string;

    interface Row {
      id: number;
      path: string;
      score: number;
      width: number | null;
      height: number | null;
    }

    const get = async (p: string, init?: RequestInit) => fetch(new URL(p, server.url), init);
    const json = async <T = { results: Row[] }>(p: string, init?: RequestInit): Promise<T> => {
      const res = await get(p, init);
      expect(res.status, `${p}: ${res.status}`).toBe(200);
      return (await res.json()) as T;
    };

    function listTree(root: string): string[] {
      return (fs.readdirSync(root, { recursive: true }) as string[]).sort();
    }

    beforeAll(async () => {
      work = tmp();
      const modelDir = writeRandomClipModel(path.join(work, 'model'), { seed: 5, initStd: 0.1 }).dir;
      lib = await makePhotoLibrary(path.join(work, 'photos'), { photos: 30, seed: 4 });
      // A link inside the photo folder to an image outside it: an import with followLinks catalogues
      // it (searchable), serve never hands it out.
      const outside = path.join(work, 'outside.jpg');
      fs.writeFileSync(outside, await encodePicture(999, 64, 'jpeg'));
      outsideLink = path.join(lib.root, 'escape.jpg');
      fs.symlinkSync(outside, outsideLink);
      if (engine === 'postgres') {
        // Thumbnails of a database catalog are cached under the cache dir: keep them in the scratch dir.
        process.env.CLIPKIT_CACHE = path.join(work, 'cache');
        db = await freshDatabase(adminUrl as string, 'serve');
      } else {
        db = path.join(work, 'clipkit.db');
      }
      const writer = await Library.open(db, { model: modelDir });
      try {
        await writer.import(lib.root, { followLinks: true });
      } finally {
        await writer.close();
      }
      // As `clipkit serve` opens it: read-only, with the model the catalog names.
      library = await Library.openExisting(db);
      server = await serve(library, { port: 0 });
    }, 120_000);

    afterAll(async () => {
      await server?.close();
      await library?.close();
    });

    const idOf = async (file: string): Promise<number> => {
      const hit = (await library.search('', 1000, { image: file })).find((h) => h.path === file);
      if (!hit) throw new Error(`${file} is not in the catalog`);
      return hit.id;
    };

    describe('JSON API', () => {
      it('GET /api/search returns the same ids in the same order as `clipkit search --json`, with sizes', async () => {
        const query = '"a red square" + "sunset" - 2*"people"';
        const { results } = await json(`/api/search?${new URLSearchParams({ q: query, k: '12' })}`);
        const cli = await new Promise<string>((resolve, reject) => {
          const child = spawn(process.execPath, [BIN, 'search', query, '--db', db, '--k', '12', '--json'], { stdio: ['ignore', 'pipe', 'inherit'] });
          let out = '';
          child.stdout.on('data', (d: Buffer) => (out += d.toString()));
          child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`clipkit search exited ${code}`))));
        });
        const expected = JSON.parse(cli) as Array<{ id: number; path: string; score: number }>;
        expect(results.map((r) => r.id)).toEqual(expected.map((h) => h.id));
        expect(results.map((r) => r.path)).toEqual(expected.map((h) => h.path));
        results.forEach((r, i) => expect(Math.abs(r.score - (expected[i]?.score as number))).toBeLessThan(1e-6));
        expect(results).toHaveLength(12);
        // Sizes of every served file; the link out of the photo folder is listed but never read.
        for (const r of results) expect([r.width, r.height], r.path).toEqual(r.path === outsideLink ? [null, null] : [64, 64]);
      });

      it('pages with offset: k=5 offset=5 is the second half of k=10', async () => {
        const all = (await json('/api/search?q=beach&k=10')).results;
        const second = (await json('/api/search?q=beach&k=5&offset=5')).results;
        expect(second.map((r) => r.id)).toEqual(all.slice(5).map((r) => r.id));
      });

      it('POST /api/search with an image body returns that image first, and writes nothing under the photo root', async () => {
        const before = listTree(lib.root);
        const file = lib.images[3] as string;
        const res = await json('/api/search?k=5', { method: 'POST', headers: { 'Content-Type': 'image/jpeg' }, body: fs.readFileSync(file) });
        expect(res.results[0]?.path).toBe(file);
        expect(res.results[0]?.score).toBeGreaterThan(0.999);
        expect(listTree(lib.root)).toEqual(before);
      });

      it('GET /api/similar/:id puts the file (score 1) first', async () => {
        const id = await idOf(lib.images[4] as string);
        const { results } = await json(`/api/similar/${id}?k=8`);
        expect(results).toHaveLength(8);
        expect(results[0]?.id).toBe(id);
        expect(results[0]?.score).toBeGreaterThan(0.9999);
        for (let i = 1; i < results.length; i++) expect(results[i]?.score).toBeLessThanOrEqual(results[i - 1]?.score as number);
        expect((await get('/api/similar/999999')).status).toBe(404);
      });

      it('GET /api/duplicates groups byte-identical copies, with ids that name the same paths', async () => {
        const { groups } = await json<{ groups: Array<{ minScore: number; files: Array<{ id: number; path: string }> }> }>('/api/duplicates?threshold=0.999');
        const copy = lib.copies[0] as string;
        const group = groups.find((g) => g.files.some((f) => f.path === copy));
        expect(group?.files.length).toBeGreaterThanOrEqual(2);
        for (const f of group?.files ?? []) expect((await json<{ path: string }>(`/api/file/${f.id}`)).path).toBe(f.path);
        expect((await get('/api/duplicates?threshold=7')).status).toBe(400);
        expect((await get('/api/duplicates?threshold=abc')).status).toBe(400);
        // An empty threshold (a cleared form field) is the default, as an empty k is, not 0 (one group of everything).
        expect(await json('/api/duplicates?threshold=')).toEqual(await json('/api/duplicates'));
      });

      it('POST /api/classify scores stored embeddings against labels (probabilities sum to 1, best first)', async () => {
        const ids = [await idOf(lib.images[0] as string), await idOf(lib.images[1] as string)];
        const body = { ids, labels: ['dog', 'cat', 'beach'] };
        const { results } = await json<{ results: Array<{ id: number; scores: Array<{ label: string; probability: number; logit: number }> }> }>('/api/classify', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify(body),
        });
        expect(results.map((r) => r.id)).toEqual(ids);
        for (const r of results) {
          expect(r.scores.map((s) => s.label).sort()).toEqual(['beach', 'cat', 'dog']);
          expect(Math.abs(r.scores.reduce((a, s) => a + s.probability, 0) - 1)).toBeLessThan(1e-6);
          for (let i = 1; i < r.scores.length; i++) expect(r.scores[i]?.logit).toBeLessThanOrEqual(r.scores[i - 1]?.logit as number);
        }
        const post = (b: unknown) => get('/api/classify', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(b) });
        expect((await post({ ids, labels: [] })).status).toBe(400);
        expect((await post({ ids: ['1; DROP TABLE files'], labels: ['x'] })).status).toBe(400);
        expect((await post({ ids: [987654], labels: ['x'] })).status).toBe(404);
        // A cross-site form or text/plain POST (no CORS preflight) is refused.
        const plain = await get('/api/classify', { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: JSON.stringify(body) });
        expect(plain.status).toBe(415);
        // The JSON body is bounded like an upload: a huge one is refused, not buffered. (On its own
        // connection: the server closes one whose body it did not read, and fetch would reuse it.)
        const huge = await rawRequest(server.url, '/api/classify', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Connection: 'close' },
          body: Buffer.from(JSON.stringify({ ids, labels: ['x'.repeat(2 * 1024 * 1024)] })),
        });
        expect(huge.status).toBe(413);
        expect((JSON.parse(huge.body.toString()) as { error: { code: string } }).error.code).toBe('BODY_TOO_LARGE');
      });

      it('GET /api/file/:id and /api/image/:id: details, the original bytes, Content-Type from the real format', async () => {
        const disguised = lib.images.find((p) => p.endsWith('.dat')) as string; // a WebP named .dat
        const id = await idOf(disguised);
        const info = await json<{ path: string; size: number; width: number; format: string; modified: string }>(`/api/file/${id}`);
        expect(info).toMatchObject({ path: disguised, size: fs.statSync(disguised).size, width: 64, format: 'webp' });
        expect(Date.parse(info.modified)).toBeCloseTo(fs.statSync(disguised).mtimeMs, -3);
        const res = await get(`/api/image/${id}`);
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toBe('image/webp');
        expect(Buffer.from(await res.arrayBuffer()).equals(fs.readFileSync(disguised))).toBe(true);
      });

      it('GET /api/thumb/:id: a cached WebP with ETag and Cache-Control, 304 on If-None-Match', async () => {
        const id = await idOf(lib.images[6] as string);
        const first = await get(`/api/thumb/${id}`);
        expect(first.status).toBe(200);
        expect(first.headers.get('content-type')).toBe('image/webp');
        expect(first.headers.get('cache-control')).toMatch(/max-age=\d+/);
        const etag = first.headers.get('etag') as string;
        expect(etag).toMatch(/^"[0-9a-f]{32}-\d+"$/);
        const meta = await sharp(Buffer.from(await first.arrayBuffer())).metadata();
        expect([meta.format, meta.width, meta.height]).toEqual(['webp', 64, 64]);
        expect(fs.readdirSync(defaultThumbnailDir(db), { recursive: true }).some((f) => String(f).endsWith('.webp'))).toBe(true);
        const again = await get(`/api/thumb/${id}`, { headers: { 'If-None-Match': etag } });
        expect(again.status).toBe(304);
        expect(again.headers.get('etag')).toBe(etag);
        expect((await get(`/api/thumb/${id}`, { headers: { 'If-None-Match': '"stale"' } })).status).toBe(200);
      });

      it('GET /api/thumb/:id still answers when the thumbnail cache cannot be written (read-only catalog folder)', async () => {
        const id = await idOf(lib.images[9] as string);
        // A cache folder below a regular file cannot be created, whoever runs the test (root too).
        const blocked = path.join(work, 'not-a-folder');
        fs.writeFileSync(blocked, '');
        const readOnly = await serve(library, { port: 0, thumbnailDir: path.join(blocked, 'thumbs') });
        try {
          const res = await fetch(new URL(`/api/thumb/${id}`, readOnly.url));
          expect(res.status).toBe(200);
          expect((await sharp(Buffer.from(await res.arrayBuffer())).metadata()).format).toBe('webp');
        } finally {
          await readOnly.close();
        }
      });

      it('follows an import running in another process: new photos appear without a restart', async () => {
        const before = (await json<{ counts: { files: number } }>('/api/status')).counts.files;
        const groupsBefore = await library.duplicates(0.999);
        expect(await library.duplicates(0.999)).toBe(groupsBefore); // kept while the catalog is unchanged
        const added = path.join(lib.root, 'new', 'later.png');
        fs.mkdirSync(path.dirname(added), { recursive: true });
        fs.writeFileSync(added, await encodePicture(4242, 64, 'png'));
        const other = await Library.open(db);
        try {
          await other.import(lib.root, { followLinks: true });
        } finally {
          await other.close();
        }
        expect((await json<{ counts: { files: number } }>('/api/status')).counts.files).toBe(before + 1);
        expect(await library.duplicates(0.999)).not.toBe(groupsBefore); // recomputed after the import
        const res = await json('/api/search?k=3', { method: 'POST', headers: { 'Content-Type': 'image/png' }, body: fs.readFileSync(added) });
        expect(res.results[0]?.path).toBe(added);
      });

      it('answers bad parameters with 400 and a JSON error, unknown routes with 404', async () => {
        for (const p of ['/api/search?q=', '/api/search?q=x&k=0', '/api/search?q=x&k=abc', '/api/search?q=x&offset=-1', '/api/search?q=x&k=1000&offset=100', '/api/search?q="unterminated']) {
          const res = await get(p);
          expect(res.status, p).toBe(400);
          expect(((await res.json()) as { error: { message: string } }).error.message).not.toBe('');
        }
        expect((await get('/api/nothing')).status).toBe(404);
      });
    });

    describe('security', () => {
      it('sends CSP without inline script, nosniff and frame-ancestors none; serves the page and its assets', async () => {
        const page = await get('/');
        expect(page.status).toBe(200);
        const html = await page.text();
        expect(html).toContain('<script type="module" src="/assets/app.js">');
        expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/); // no inline script
        const csp = page.headers.get('content-security-policy') ?? '';
        expect(csp).toContain("script-src 'self'");
        expect(csp).toContain("frame-ancestors 'none'");
        expect(csp).not.toContain('unsafe-inline');
        expect(page.headers.get('x-content-type-options')).toBe('nosniff');
        // Plain HTTP: no HSTS, which browsers ignore over http and which would pin a proxy's name.
        expect(page.headers.get('strict-transport-security')).toBeNull();
        expect((await get('/assets/app.js')).headers.get('content-type')).toMatch(/javascript/);
        expect((await get('/api/status')).headers.get('x-content-type-options')).toBe('nosniff');
        // Other sites' pages cannot embed the photos (<img src="http://127.0.0.1:8377/api/image/1">).
        expect((await get('/api/thumb/1')).headers.get('cross-origin-resource-policy')).toBe('same-origin');
      });

      it('serves files by catalog id only: traversal strings are refused', async () => {
        for (const p of [
          '/api/image/..%2f..%2f..%2fetc%2fpasswd',
          '/api/image/%2e%2e%2fetc%2fpasswd',
          '/api/thumb/1%2f..%2f..%2fetc%2fpasswd',
          '/api/file/..%252fetc%252fpasswd',
          '/api/image/1.5',
          '/api/image/-1',
        ]) {
          const res = await rawRequest(server.url, p);
          expect(res.status, p).toBe(400);
          expect(res.body.toString()).not.toContain('root:');
        }
        for (const p of ['/assets/..%2f..%2fpackage.json', '/assets/../../package.json', '/assets/%2e%2e/%2e%2e/package.json', '/../../../../etc/passwd']) {
          const res = await rawRequest(server.url, p);
          expect(res.status, p).toBeGreaterThanOrEqual(400);
          expect(res.body.toString()).not.toMatch(/"name"|root:/);
        }
        expect((await get('/api/image/999999')).status).toBe(404);
      });

      it('refuses files that resolve outside the imported folders: a planted link to /etc/passwd, a link to an outside image', async () => {
        const escape = await idOf(outsideLink); // imported (the scan follows links), never served
        for (const p of [`/api/image/${escape}`, `/api/thumb/${escape}`, `/api/file/${escape}`]) expect((await get(p)).status, p).toBe(403);
        // A link inside the root to a file inside the root is fine.
        const inside = lib.copies.find((p) => fs.lstatSync(p).isSymbolicLink()) as string;
        expect((await get(`/api/image/${await idOf(inside)}`)).status).toBe(200);
        // A catalogued photo replaced by a link to /etc/passwd after the import.
        const victim = lib.images[9] as string;
        const id = await idOf(victim);
        fs.rmSync(victim);
        fs.symlinkSync('/etc/passwd', victim);
        for (const p of [`/api/image/${id}`, `/api/thumb/${id}`]) {
          const res = await get(p);
          expect(res.status, p).toBe(403);
          expect(await res.text()).not.toContain('root:');
        }
      });

      it('answers a foreign Host header with 403 (DNS rebinding), localhost with 200', async () => {
        const { port } = server;
        expect((await rawRequest(server.url, '/api/status', { host: `evil.example:${port}` })).status).toBe(403);
        expect((await rawRequest(server.url, '/', { host: `127.0.0.1.nip.io:${port}` })).status).toBe(403);
        expect((await rawRequest(server.url, '/api/status', { host: `localhost:${port + 1}` })).status).toBe(403);
        expect((await rawRequest(server.url, '/api/status', { host: `localhost:${port}` })).status).toBe(200);
        expect((await rawRequest(server.url, '/api/status', { host: `127.0.0.1:${port}` })).status).toBe(200);
      });

      it('refuses a 100-megapixel upload (413) before decoding it, and one over the byte limit', async () => {
        const bomb = blackPng(10_000, 10_000);
        expect(bomb.byteLength).toBeLessThan(1 << 20);
        const res = await get('/api/search', { method: 'POST', headers: { 'Content-Type': 'image/png' }, body: bomb });
        expect(res.status).toBe(413);
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe('IMAGE_TOO_LARGE');
        const big = await get('/api/search', { method: 'POST', headers: { 'Content-Type': 'image/jpeg' }, body: new Uint8Array(33 * 1024 * 1024) });
        expect(big.status).toBe(413);
        const text = await get('/api/search', { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: 'hello' });
        expect(text.status).toBe(415);
        const garbage = await get('/api/search', { method: 'POST', headers: { 'Content-Type': 'image/jpeg' }, body: new Uint8Array(100).fill(7) });
        expect(garbage.status).toBe(422);
      });

      it('with a token: every request needs it (header, query parameter that sets a cookie, or cookie)', async () => {
        const guarded = await serve(library, { port: 0, token: 'correct-horse-battery' });
        try {
          const at = (p: string, init?: RequestInit) => fetch(new URL(p, guarded.url), init);
          const id = await idOf(lib.images[2] as string);
          for (const p of ['/', '/assets/app.js', '/api/search?q=x', `/api/image/${id}`, `/api/thumb/${id}`]) expect((await at(p)).status, p).toBe(401);
          expect((await at('/api/status', { headers: { Authorization: 'Bearer wrong-horse-battery' } })).status).toBe(401);
          expect((await at(`/api/image/${id}`, { headers: { Authorization: 'Bearer correct-horse-battery' } })).status).toBe(200);
          const viaQuery = await at('/?token=correct-horse-battery');
          expect(viaQuery.status).toBe(200);
          const cookie = (viaQuery.headers.get('set-cookie') ?? '').split(';')[0] as string;
          expect(viaQuery.headers.get('set-cookie')).toMatch(/HttpOnly/i);
          expect((await at(`/api/thumb/${id}`, { headers: { Cookie: cookie } })).status).toBe(200);
        } finally {
          await guarded.close();
        }
      });

      it('logs an internal error without letting control characters reach the terminal', async () => {
        const logged: string[] = [];
        const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
          logged.push(String(chunk));
          return true;
        });
        const search = library.search;
        library.search = (() => Promise.reject(new Error('boom \x1b]0;owned\x07 at /p/\x1b[2Jx.jpg'))) as typeof library.search;
        try {
          const res = await get('/api/search?q=x');
          expect(res.status).toBe(500);
          expect(((await res.json()) as { error: { code: string } }).error.code).toBe('INTERNAL');
        } finally {
          library.search = search;
          spy.mockRestore();
        }
        const text = logged.join('');
        expect(text).toContain('clipkit serve: GET /api/search: Error: boom \\x1b]0;owned\\x07 at /p/\\x1b[2Jx.jpg');
        expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
      });

      it('a non-loopback bind without --token gets a generated one', async () => {
        const open = await serve(library, { port: 0, host: '0.0.0.0' });
        try {
          expect(open.token).toMatch(/^[\w-]{32}$/);
          // The URL to open is the loopback address, not the wildcard bound.
          expect(open).toMatchObject({ url: `http://127.0.0.1:${open.port}/`, host: '0.0.0.0', allInterfaces: true });
          const url = new URL('/api/status', open.url).href;
          expect((await fetch(url)).status).toBe(401);
          expect((await fetch(url, { headers: { Authorization: `Bearer ${open.token}` } })).status).toBe(200);
        } finally {
          await open.close();
        }
      });
    });

    if (engine === 'postgres') {
      describe('PostgreSQL connections', () => {
        const dbName = () => new URL(db).pathname.slice(1);
        /** Ends every session of the catalog's database but the one asking: what a server restart does to the pool. */
        const dropConnections = () => sql(adminUrl as string, 'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [dbName()]);

        it('keeps answering after the server drops its connections', async () => {
          const before = await json('/api/search?q=beach&k=5');
          const id = before.results[0]?.id as number;
          await dropConnections();
          expect(await json('/api/search?q=beach&k=5')).toEqual(before);
          expect((await json<{ id: number }>(`/api/file/${id}`)).id).toBe(id);
          expect((await get(`/api/thumb/${id}`)).status).toBe(200);
        });

        it('answers 503 with the server named (no password) while the database is unavailable, and recovers', async () => {
          const quick = await Library.openExisting(db, { retrySeconds: 0 });
          const handle = await serve(quick, { port: 0 });
          const at = (p: string) => fetch(new URL(p, handle.url));
          try {
            const id = (await idOf(lib.images[5] as string)).toString();
            await sql(adminUrl as string, `ALTER DATABASE ${dbName()} ALLOW_CONNECTIONS false`);
            try {
              await dropConnections();
              for (const p of ['/api/search?q=beach&k=5', `/api/file/${id}`, '/api/status']) {
                const res = await at(p);
                expect(res.status, p).toBe(503);
                const { error } = (await res.json()) as { error: { code: string; message: string } };
                expect(error.code, p).toBe('CATALOG_UNAVAILABLE');
                expect(error.message, p).toContain(`127.0.0.1:${new URL(db).port}`);
                expect(error.message, p).not.toContain(`:${new URL(db).password}@`);
              }
            } finally {
              await sql(adminUrl as string, `ALTER DATABASE ${dbName()} ALLOW_CONNECTIONS true`);
            }
            expect((await at('/api/search?q=beach&k=5')).status).toBe(200);
          } finally {
            await handle.close();
            await quick.close();
          }
        });
      });
    }

    describe('clipkit serve (command)', () => {
      it('prints its URL, serves the page, stops cleanly on SIGTERM; a bad --port is a usage error', async () => {
        const child = spawn(process.execPath, [BIN, 'serve', '--db', db, '--port', '0', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        const line = await new Promise<string>((resolve, reject) => {
          let out = '';
          child.stdout.on('data', (d: Buffer) => {
            out += d.toString();
            if (out.includes('\n')) resolve(out.split('\n')[0] as string);
          });
          child.on('close', (code) => reject(new Error(`exited ${code}: ${stderr}`)));
        });
        const { url, token, allInterfaces } = JSON.parse(line) as { url: string; token: string | null; allInterfaces: boolean };
        expect(token).toBeNull();
        expect(allInterfaces).toBe(false);
        expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
        expect((await fetch(url)).status).toBe(200);
        const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
        child.kill('SIGTERM');
        expect(await exited).toBe(0);
        expect(stderr).toBe('');

        // On all interfaces: a URL to open on this machine, and a note on reaching it from others.
        const wide = spawn(process.execPath, [BIN, 'serve', '--db', db, '--port', '0', '--host', '0.0.0.0'], { stdio: ['ignore', 'pipe', 'pipe'] });
        const printed = await new Promise<string>((resolve, reject) => {
          let out = '';
          wide.stdout.on('data', (d: Buffer) => {
            out += d.toString();
            if (out.split('\n').length > 3) resolve(out);
          });
          wide.on('close', (code) => reject(new Error(`exited ${code}: ${out}`)));
        });
        const [first, note, once] = printed.split('\n');
        const opened = new URL((first as string).replace(/^clipkit serve: /, ''));
        expect(opened.hostname).toBe('127.0.0.1');
        expect(opened.searchParams.get('token')).toMatch(/^[\w-]{32}$/);
        expect(note).toBe(`clipkit serve: listening on all interfaces (0.0.0.0 port ${opened.port}): from another machine, use this machine's name or address in place of 127.0.0.1`);
        expect(once).toBe('clipkit serve: the token above is shown only once');
        expect((await fetch(opened)).status).toBe(200);
        const wideExited = new Promise<number | null>((resolve) => wide.on('close', resolve));
        wide.kill('SIGTERM');
        expect(await wideExited).toBe(0);

        const bad = spawn(process.execPath, [BIN, 'serve', '--db', db, '--port', '70000'], { stdio: ['ignore', 'pipe', 'pipe'] });
        let badErr = '';
        bad.stderr.on('data', (d: Buffer) => (badErr += d.toString()));
        expect(await new Promise((resolve) => bad.on('close', resolve))).toBe(2);
        expect(badErr).toMatch(/--port/);
        expect(badErr).not.toMatch(/\n\s+at /);
      });
    });
  });
}
