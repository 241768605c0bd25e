// Raw HTTP requests for the serve tests: the exact path bytes and any Host header, which fetch
// would normalise or forbid.
import http from 'node:http';

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** A request sent as given: the path is not normalised and the Host header is ours. */
export function rawRequest(url: string, path: string, opts: { host?: string; method?: string; headers?: Record<string, string>; body?: Uint8Array } = {}): Promise<RawResponse> {
  const base = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        hostname: base.hostname,
        port: base.port,
        path,
        method: opts.method ?? 'GET',
        headers: { ...(opts.host !== undefined ? { host: opts.host } : {}), ...opts.headers },
        setHost: opts.host === undefined,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}
