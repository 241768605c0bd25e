// What makes `clipkit serve` safe to leave running: requests must name this server in their
// Host header (a DNS-rebinding page cannot), a token guards every request when one is set
// (always for a non-loopback bind), and every response carries a strict CSP.
import { timingSafeEqual, randomBytes } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';
import { secureHeaders } from 'hono/secure-headers';

export const TOKEN_COOKIE = 'clipkit_token';

export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h);
}

export function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '[::]';
}

export function generateToken(): string {
  return randomBytes(24).toString('base64url');
}

/** 403 unless the Host header names the bound host (or localhost) at the bound port. */
export function hostCheck(boundHost: string, port: () => number, extraHosts: readonly string[]): MiddlewareHandler {
  const names = new Set(['localhost', '127.0.0.1', '[::1]', ...extraHosts].map((h) => h.toLowerCase()));
  if (!isWildcard(boundHost)) names.add(boundHost.includes(':') && !boundHost.startsWith('[') ? `[${boundHost}]` : boundHost.toLowerCase());
  return async (c, next) => {
    // A wildcard bind answers under any name the machine has; the required token guards it.
    if (isWildcard(boundHost)) return next();
    const host = (c.req.header('host') ?? '').toLowerCase();
    const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(host);
    const ok = m !== null && names.has(m[1] as string) && (m[2] === undefined ? port() === 80 : Number(m[2]) === port());
    if (!ok) return c.json({ error: { code: 'FORBIDDEN_HOST', message: `Host ${JSON.stringify(host)} is not this server` } }, 403);
    return next();
  };
}

/**
 * Every request must carry the token: `Authorization: Bearer T`, `?token=T` (which also sets an
 * HttpOnly cookie, so the page's own requests need nothing more) or that cookie.
 */
export function tokenCheck(token: string): MiddlewareHandler {
  const expected = Buffer.from(token);
  const matches = (given: string | undefined) => {
    if (given === undefined) return false;
    const b = Buffer.from(given);
    return b.length === expected.length && timingSafeEqual(b, expected);
  };
  return async (c, next) => {
    const auth = c.req.header('authorization');
    const bearer = auth?.startsWith('Bearer ') ? auth.slice(7).trim() : undefined;
    const query = c.req.query('token');
    if (matches(bearer) || matches(getCookie(c, TOKEN_COOKIE))) return next();
    if (matches(query)) {
      setCookie(c, TOKEN_COOKIE, token, { httpOnly: true, sameSite: 'Strict', path: '/' });
      return next();
    }
    return c.json({ error: { code: 'UNAUTHORIZED', message: 'missing or wrong token: send Authorization: Bearer TOKEN or open the URL with ?token=TOKEN' } }, 401);
  };
}

/**
 * CSP without inline script, no framing, no sniffing, no referrer. No Strict-Transport-Security:
 * serve speaks plain HTTP, where browsers ignore it, and a TLS proxy in front sets its own.
 */
export function securityHeaders(): MiddlewareHandler {
  return secureHeaders({
    strictTransportSecurity: false,
    contentSecurityPolicy: {
      defaultSrc: ["'none'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'"],
      imgSrc: ["'self'", 'blob:'],
      connectSrc: ["'self'"],
      formAction: ["'self'"],
      baseUri: ["'none'"],
      frameAncestors: ["'none'"],
    },
    xFrameOptions: 'DENY',
    crossOriginResourcePolicy: 'same-origin',
    referrerPolicy: 'no-referrer',
  });
}
