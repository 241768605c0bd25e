// serve(library, options): the JSON API and the page on one local HTTP server.
import type { AddressInfo } from 'node:net';
import { serve as listen } from '@hono/node-server';
import { UsageError } from '../errors.js';
import type { Library } from '../library/index.js';
import { createApp } from './app.js';
import { generateToken, isLoopback, isWildcard } from './security.js';
import { defaultThumbnailDir } from './thumbs.js';

export const DEFAULT_PORT = 8377;

export interface ServeOptions {
  /** Default 8377; 0 picks a free port (the handle says which). */
  port?: number;
  /** Default 127.0.0.1. Any other than a loopback address requires a token. */
  host?: string;
  /** Required on every request when set; generated when the host is not loopback and none is given. */
  token?: string;
  /** Extra names accepted in the Host header (e.g. behind a reverse proxy). */
  allowedHosts?: string[];
  /** Where thumbnails are cached (default: next to the catalog, `<db>.thumbs`). */
  thumbnailDir?: string;
  /** Largest query image accepted, in bytes (default 32 MiB). */
  maxUploadBytes?: number;
  /** Largest query image accepted, in pixels (default 50 million). */
  maxUploadPixels?: number;
}

export interface ServeHandle {
  /**
   * Base URL a browser on this machine can open, e.g. http://127.0.0.1:8377/ (without the token).
   * For a bind to all interfaces (0.0.0.0, ::) it is the loopback address: the wildcard itself is
   * no address to open; other machines use one of this machine's own.
   */
  url: string;
  /** The address bound, as given. */
  host: string;
  /** Whether the bind is to all interfaces (host 0.0.0.0 or ::). */
  allInterfaces: boolean;
  port: number;
  /** The token every request must carry, or null when none is required. */
  token: string | null;
  /** Stops accepting connections and ends open ones; the library stays open. */
  close(): Promise<void>;
}

export async function serve(library: Library, opts: ServeOptions = {}): Promise<ServeHandle> {
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? DEFAULT_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be an integer in [0, 65535], got ${port}`);
  if (opts.token !== undefined && !/^[\x21-\x7e]{8,}$/.test(opts.token)) {
    throw new UsageError('--token must be at least 8 printable characters without spaces');
  }
  const token = opts.token ?? (isLoopback(host) ? null : generateToken());
  // The model is loaded now, not on the first request: a wrong --model fails at start.
  if (await library.model()) await library.loadModel();

  let bound = port;
  const app = createApp(library, {
    host,
    port: () => bound,
    token,
    allowedHosts: opts.allowedHosts ?? [],
    thumbnailDir: opts.thumbnailDir ?? defaultThumbnailDir(library.dbPath),
    maxUploadBytes: opts.maxUploadBytes ?? 32 * 1024 * 1024,
    maxUploadPixels: opts.maxUploadPixels ?? 50_000_000,
  });
  const server = await new Promise<ReturnType<typeof listen>>((resolve, reject) => {
    const s = listen({ fetch: app.fetch, hostname: host, port }, () => resolve(s));
    s.once('error', (err: NodeJS.ErrnoException) =>
      reject(new UsageError(`cannot listen on ${host}:${port}: ${err.code === 'EADDRINUSE' ? 'the port is in use (pick another with --port)' : err.message}`, { cause: err })),
    );
  });
  bound = (server.address() as AddressInfo).port;
  const allInterfaces = isWildcard(host);
  const reachable = allInterfaces ? (host === '0.0.0.0' ? '127.0.0.1' : '::1') : host;
  const urlHost = reachable.includes(':') && !reachable.startsWith('[') ? `[${reachable}]` : reachable;
  return {
    url: `http://${urlHost}:${bound}/`,
    host,
    allInterfaces,
    port: bound,
    token,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        if ('closeAllConnections' in server) server.closeAllConnections();
      }),
  };
}
