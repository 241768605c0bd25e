// The HTTP API over a Library (Hono routes) plus the page's static assets. Handlers only parse
// and validate the request and shape the JSON; every question is answered by the Library.
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { serveStatic } from '@hono/node-server/serve-static';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import sharp, { type Metadata } from 'sharp';
import {
  AccessDeniedError,
  CatalogBusyError,
  CatalogError,
  CatalogMismatchError,
  CatalogUnavailableError,
  ClipkitError,
  ImageDecodeError,
  ImageTooLargeError,
  NotFoundError,
  UnsupportedImageError,
  UsageError,
} from '../errors.js';
import type { ImageFormat, Library, SearchHit } from '../library/index.js';
import { LIMITS } from '../limits.js';
import { displayPath } from '../util/byte-paths.js';
import { hostCheck, securityHeaders, tokenCheck } from './security.js';
import { Thumbnails } from './thumbs.js';

const ASSETS_DIR = fileURLToPath(new URL('../../assets/serve/', import.meta.url));

export interface AppConfig {
  host: string;
  port: () => number;
  token: string | null;
  allowedHosts: readonly string[];
  thumbnailDir: string;
  maxUploadBytes: number;
  maxUploadPixels: number;
}

const DEFAULT_K = 50;
/** Largest POST /api/classify body: 1024 ids and 100 labels fit many times over. */
const MAX_JSON_BYTES = 1024 * 1024;

const CONTENT_TYPES: Record<ImageFormat, string> = {
  jpeg: 'image/jpeg',
  png: 'image/png',
  gif: 'image/gif',
  webp: 'image/webp',
  tiff: 'image/tiff',
  avif: 'image/avif',
  heif: 'image/heic',
  jxl: 'image/jxl',
  bmp: 'image/bmp',
};

interface ResultRow {
  id: number;
  path: string;
  score: number;
  width: number | null;
  height: number | null;
}

export function createApp(library: Library, config: AppConfig): Hono {
  const app = new Hono();
  const thumbs = new Thumbnails(library, config.thumbnailDir);

  app.use('*', securityHeaders());
  app.use('*', hostCheck(config.host, config.port, config.allowedHosts));
  if (config.token !== null) app.use('*', tokenCheck(config.token));
  app.onError((err, c) => errorResponse(c, err));
  app.notFound((c) => c.json({ error: { code: 'NOT_FOUND', message: `no route ${c.req.method} ${c.req.path}` } }, 404));

  const withSizes = async (hits: SearchHit[]): Promise<{ results: ResultRow[] }> => ({
    results: await Promise.all(
      hits.map(async (h) => {
        const info = await library.file(h.id).catch(() => null);
        return { id: h.id, path: h.path, score: h.score, width: info?.width ?? null, height: info?.height ?? null };
      }),
    ),
  });

  app.get('/api/search', async (c) => {
    const { k, offset } = paging(c);
    return c.json(await withSizes(await library.search(c.req.query('q') ?? '', k, { offset })));
  });

  app.post(
    '/api/search',
    bodyLimit({
      maxSize: config.maxUploadBytes,
      onError: (c) => c.json({ error: { code: 'IMAGE_TOO_LARGE', message: `upload is over ${config.maxUploadBytes} bytes` } }, 413),
    }),
    async (c) => {
      const type = (c.req.header('content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
      if (!type.startsWith('image/') && type !== 'application/octet-stream') {
        throw new UnsupportedImageError(`POST /api/search takes the image itself as the body (Content-Type image/*), got "${type}"`);
      }
      const bytes = new Uint8Array(await c.req.arrayBuffer());
      if (bytes.byteLength === 0) throw new UsageError('POST /api/search: the body is empty; send an image');
      await checkUploadPixels(bytes, config.maxUploadPixels);
      const { k, offset } = paging(c);
      return c.json(await withSizes(await library.search(c.req.query('q') ?? '', k, { offset, image: bytes })));
    },
  );

  app.get('/api/similar/:id', async (c) => {
    const { k, offset } = paging(c);
    return c.json(await withSizes(await library.similar(idParam(c), k, { offset })));
  });

  app.get('/api/duplicates', async (c) => {
    const raw = c.req.query('threshold');
    const threshold = raw === undefined || raw === '' ? 0.95 : Number(raw);
    const groups = await library.duplicates(threshold);
    return c.json({
      groups: groups.map((g) => ({ minScore: g.minScore, files: g.ids.map((id, i) => ({ id, path: g.paths[i] as string })) })),
    });
  });

  app.use(
    '/api/classify',
    bodyLimit({
      maxSize: MAX_JSON_BYTES,
      onError: (c) => c.json({ error: { code: 'BODY_TOO_LARGE', message: `POST /api/classify: the body is over ${MAX_JSON_BYTES} bytes` } }, 413),
    }),
  );
  app.post('/api/classify', async (c) => {
    // Only application/json: a form or text/plain POST from another site's page is refused
    // (those need no CORS preflight, this type does).
    if ((c.req.header('content-type') ?? '').split(';')[0]?.trim().toLowerCase() !== 'application/json') {
      return c.json({ error: { code: 'UNSUPPORTED_MEDIA_TYPE', message: 'POST /api/classify takes Content-Type application/json' } }, 415);
    }
    let body: unknown;
    try {
      body = await c.req.json();
    } catch (err) {
      throw new UsageError('POST /api/classify: the body must be JSON { "ids": [..], "labels": [..] }', { cause: err });
    }
    const { ids, labels } = (body ?? {}) as { ids?: unknown; labels?: unknown };
    if (!Array.isArray(ids) || ids.length === 0 || ids.length > LIMITS.topK.max || !ids.every((id) => Number.isSafeInteger(id))) {
      throw new UsageError(`classify: "ids" must be an array of 1 to ${LIMITS.topK.max} file ids`);
    }
    if (!Array.isArray(labels) || labels.length === 0 || labels.length > 100 || !labels.every((l) => typeof l === 'string')) {
      throw new UsageError('classify: "labels" must be an array of 1 to 100 strings');
    }
    return c.json({ results: await library.classify(ids as number[], labels as string[]) });
  });

  app.get('/api/file/:id', async (c) => {
    const info = await library.file(idParam(c));
    return c.json({ ...info, modified: new Date(info.mtimeMs).toISOString() });
  });

  app.get('/api/thumb/:id', async (c) => {
    const id = idParam(c);
    const info = await library.file(id);
    const etag = Thumbnails.etag(info.hash);
    const headers = { ETag: etag, 'Cache-Control': 'private, max-age=3600, must-revalidate' };
    if (ifNoneMatch(c.req.header('if-none-match'), etag)) return c.body(null, 304, headers);
    const thumb = await thumbs.get(id, info.hash);
    return c.body(new Uint8Array(thumb), 200, { ...headers, 'Content-Type': 'image/webp' });
  });

  app.get('/api/image/:id', async (c) => {
    const { info, handle, stat } = await library.openFile(idParam(c));
    const stream = handle.createReadStream({ autoClose: true });
    return c.body(Readable.toWeb(stream) as ReadableStream, 200, {
      'Content-Type': info.format ? CONTENT_TYPES[info.format] : 'application/octet-stream',
      'Content-Length': String(stat.size),
      'Cache-Control': 'private, max-age=60',
    });
  });

  app.get('/api/status', async (c) => c.json({ counts: await library.counts(), model: (await library.model())?.id ?? null }));

  app.get('/', serveStatic({ root: ASSETS_DIR, path: 'index.html' }));
  app.get('/assets/*', serveStatic({ root: ASSETS_DIR, rewriteRequestPath: (p) => p.slice('/assets'.length) }));
  return app;
}

function paging(c: Context): { k: number; offset: number } {
  const int = (name: string, fallback: number, min: number, max: number) => {
    const raw = c.req.query(name);
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${name} must be an integer in [${min}, ${max}], got ${JSON.stringify(raw)}`);
    return n;
  };
  // The top-k kernel ranks at most LIMITS.topK files: pages end there (the Library checks offset + k).
  return { k: int('k', DEFAULT_K, 1, LIMITS.topK.max), offset: int('offset', 0, 0, LIMITS.topK.max - 1) };
}

/** Files are addressed by their catalog id only: anything but a decimal integer is refused. */
function idParam(c: Context): number {
  const raw = c.req.param('id') ?? '';
  if (!/^\d{1,15}$/.test(raw)) throw new UsageError(`file id must be a decimal integer, got ${JSON.stringify(raw)}`);
  return Number(raw);
}

function ifNoneMatch(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  return header.split(',').some((t) => {
    const tag = t.trim();
    return tag === '*' || tag === etag || tag === `W/${etag}`;
  });
}

/** Reads only the header: a decompression bomb is refused before any pixel is decoded. */
async function checkUploadPixels(bytes: Uint8Array, maxPixels: number): Promise<void> {
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (err) {
    throw new ImageDecodeError(`uploaded image cannot be read: ${(err as Error).message}`, undefined, { cause: err });
  }
  const pixels = (meta.width ?? 0) * (meta.height ?? 0);
  // The same bound sharp's limitInputPixels would apply at decode, but with a clear 413.
  if (pixels > maxPixels) {
    throw new ImageTooLargeError(`uploaded image is ${meta.width}×${meta.height} = ${pixels} pixels, over the limit of ${maxPixels}`);
  }
}

const STATUS: Array<[new (...args: never[]) => ClipkitError, number]> = [
  [UsageError, 400],
  [NotFoundError, 404],
  [AccessDeniedError, 403],
  [ImageTooLargeError, 413],
  [UnsupportedImageError, 415],
  [ImageDecodeError, 422],
  [CatalogMismatchError, 409],
  [CatalogBusyError, 503],
  // The catalog's server is down or refuses connections: try again later, not a bad request.
  [CatalogUnavailableError, 503],
  [CatalogError, 500],
];

function errorResponse(c: Context, err: Error): Response {
  if (err instanceof ClipkitError) {
    const status = STATUS.find(([type]) => err instanceof type)?.[1] ?? 400;
    return c.json({ error: { code: err.code, message: err.message } }, status as 400);
  }
  // A bug, not a bad request: its details stay in the server's log, where a control character
  // from the request or a file name must not reach the terminal (the stack keeps its lines).
  const details = (err.stack ?? String(err)).split('\n').map(displayPath).join('\n');
  process.stderr.write(`clipkit serve: ${c.req.method} ${displayPath(c.req.path)}: ${details}\n`);
  return c.json({ error: { code: 'INTERNAL', message: 'internal error (see the server log)' } }, 500);
}
