import { isIP } from 'node:net';
import type { z } from 'zod';

// Rules of the gateway's edge settings (proxy trust, CORS, production mode)
// that a single field's schema cannot say. Pure: used by config.ts at load
// time (a bad value stops the start, naming the variable) and by server.ts.

export const PRODUCTION = 'production';

/** Allow-list of a development run: a front end on the usual local dev server port. */
export const CORS_ORIGINS_DEVELOPMENT_DEFAULT = ['http://localhost:3000', 'http://127.0.0.1:3000'];

/** Proxy hops the gateway may be told to trust; more is a misconfiguration, not a topology. */
export const TRUST_PROXY_HOPS_MAX = 10;

/**
 * GATEWAY_TRUST_PROXY as Fastify's `trustProxy`: `false` (default: the client is
 * the socket peer), a hop count (trust that many proxies in front), or a
 * comma-separated list of proxy addresses/CIDRs (X-Forwarded-For is believed
 * only when the peer is one of them). `true` (believe any X-Forwarded-For) is
 * refused: any client could then choose the address its rate limit is keyed on.
 */
export type TrustProxy = false | number | string[];

export function parseTrustProxy(raw: string): { value: TrustProxy } | { problem: string } {
  const text = raw.trim().toLowerCase();
  if (text === 'false' || text === '0' || text === '') return { value: false };
  if (text === 'true') {
    return { problem: 'true would let any client choose its own address (X-Forwarded-For); give a hop count or the proxies\' addresses/CIDRs' };
  }
  if (/^\d+$/.test(text)) {
    const hops = Number(text);
    if (hops > TRUST_PROXY_HOPS_MAX) return { problem: `at most ${TRUST_PROXY_HOPS_MAX} proxy hops` };
    return { value: hops };
  }
  const entries = text.split(',').map((entry) => entry.trim()).filter(Boolean);
  const bad = entries.filter((entry) => !isAddressOrCidr(entry));
  if (bad.length > 0 || entries.length === 0) {
    return { problem: `expected false, a hop count or a comma-separated list of IP addresses/CIDRs; not valid: ${bad.join(', ').slice(0, 200)}` };
  }
  return { value: entries };
}

function isAddressOrCidr(entry: string): boolean {
  // proxy-addr's named ranges are fine too.
  if (['loopback', 'linklocal', 'uniquelocal'].includes(entry)) return true;
  const [address, bits, ...rest] = entry.split('/');
  const family = isIP(address ?? '');
  if (family === 0 || rest.length > 0) return false;
  if (bits === undefined) return true;
  // A CIDR prefix length, or (IPv4 only) a dotted netmask as proxy-addr accepts.
  if (/^\d+$/.test(bits)) return Number(bits) <= (family === 4 ? 32 : 128);
  return family === 4 && isIP(bits) === 4;
}

/**
 * CORS_ORIGINS: comma-separated origins (`scheme://host[:port]`, exactly as a
 * browser sends Origin), or `*`. Unset: the development allow-list, or none at
 * all (same-origin only) when NODE_ENV=production.
 */
export function parseCorsOrigins(raw: string | undefined, nodeEnv: string): { value: string[] } | { problem: string } {
  if (raw === undefined || raw.trim() === '') return { value: nodeEnv === PRODUCTION ? [] : [...CORS_ORIGINS_DEVELOPMENT_DEFAULT] };
  const entries = raw.split(',').map((entry) => entry.trim()).filter(Boolean);
  if (entries.includes('*')) {
    if (nodeEnv === PRODUCTION) return { problem: '"*" is refused when NODE_ENV=production: list the allowed origins' };
    return entries.length === 1 ? { value: ['*'] } : { problem: '"*" cannot be combined with other origins' };
  }
  const bad = entries.filter((entry) => !isOrigin(entry));
  if (bad.length > 0) return { problem: `not an origin (scheme://host[:port], no path): ${bad.join(', ').slice(0, 200)}` };
  return { value: entries };
}

function isOrigin(entry: string): boolean {
  try {
    const url = new URL(entry);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === entry;
  } catch {
    return false;
  }
}

/** The fields the edge rules read. */
export interface EdgeSettings {
  NODE_ENV: string;
  CORS_ORIGINS?: string | undefined;
  GATEWAY_TRUST_PROXY: string;
  HTTPS_CERT_FILE?: string | undefined;
  HTTPS_KEY_FILE?: string | undefined;
}

/** zod superRefine of the gateway's config: every problem names its variable. */
export function checkEdgeSettings(config: EdgeSettings, ctx: z.RefinementCtx): void {
  const cors = parseCorsOrigins(config.CORS_ORIGINS, config.NODE_ENV);
  if ('problem' in cors) ctx.addIssue({ code: 'custom', path: ['CORS_ORIGINS'], message: cors.problem });
  const trust = parseTrustProxy(config.GATEWAY_TRUST_PROXY);
  if ('problem' in trust) ctx.addIssue({ code: 'custom', path: ['GATEWAY_TRUST_PROXY'], message: trust.problem });
  // One without the other is a half-done HTTPS setup: refuse rather than silently serve plain HTTP.
  if ((config.HTTPS_CERT_FILE === undefined) !== (config.HTTPS_KEY_FILE === undefined)) {
    const missing = config.HTTPS_CERT_FILE === undefined ? 'HTTPS_CERT_FILE' : 'HTTPS_KEY_FILE';
    ctx.addIssue({ code: 'custom', path: [missing], message: 'missing (set HTTPS_CERT_FILE and HTTPS_KEY_FILE together, or neither)' });
  }
}

/** The values of an already validated config (the parse cannot fail any more). */
export function corsOriginsOf(config: EdgeSettings): string[] {
  const cors = parseCorsOrigins(config.CORS_ORIGINS, config.NODE_ENV);
  return 'value' in cors ? cors.value : [];
}

/** As Fastify's `trustProxy` option (a hop count becomes proxy-addr's "trust the first n hops"). */
export function trustProxyOf(config: EdgeSettings): false | string[] | ((address: string, hop: number) => boolean) {
  const trust = parseTrustProxy(config.GATEWAY_TRUST_PROXY);
  const value = 'value' in trust ? trust.value : false;
  if (typeof value !== 'number') return value;
  const hops = value;
  return (_address, hop) => hop < hops;
}

export function isProduction(config: Pick<EdgeSettings, 'NODE_ENV'>): boolean {
  return config.NODE_ENV === PRODUCTION;
}
