// SSRF rules (pure): which IP addresses a webhook may reach, and which URLs
// may be registered. Only globally routable unicast addresses pass; private,
// loopback, link-local (cloud metadata 169.254.169.254), CGNAT, multicast,
// reserved, documentation and IPv6 transition forms that can embed a private
// IPv4 (6to4, Teredo, NAT64) are refused. Loopback passes only when the
// deployment allows it (tests, `npm start`; never production: config.ts).
import ipaddr from 'ipaddr.js';

export const URL_LENGTH_MAX = 2048;
const LOOPBACK_NAMES: ReadonlySet<string> = new Set(['localhost', 'localhost.']);

export type AddressVerdict = { ok: true } | { ok: false; range: string };

export function checkAddress(address: string, allowLoopback: boolean): AddressVerdict {
  if (!ipaddr.isValid(address)) return { ok: false, range: 'invalid' };
  let parsed = ipaddr.parse(address);
  // ::ffff:10.0.0.1 is 10.0.0.1 on the wire.
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  const range = parsed.range();
  if (range === 'unicast') return { ok: true };
  if (range === 'loopback' && allowLoopback) return { ok: true };
  return { ok: false, range };
}

export interface EndpointUrl {
  /** The normalised URL as stored. */
  href: string;
  /** Host name without brackets (an IP literal or a DNS name). */
  hostname: string;
  /** Set when the host is an IP literal (checked already; no DNS involved). */
  literalAddress: string | undefined;
}

export type UrlVerdict = { ok: true; url: EndpointUrl } | { ok: false; description: string };

/**
 * The shape rules of an endpoint URL: https (http only for a loopback host when
 * loopback is allowed), no credentials, no fragment, bounded; an IP literal
 * must pass checkAddress. DNS names are resolved and checked by the caller.
 */
export function checkEndpointUrl(raw: string, allowLoopback: boolean): UrlVerdict {
  if (raw.length === 0 || raw.length > URL_LENGTH_MAX) return { ok: false, description: `must be 1-${URL_LENGTH_MAX} characters` };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, description: 'must be an absolute URL' };
  }
  if (url.username || url.password) return { ok: false, description: 'must not carry credentials' };
  if (url.hash) return { ok: false, description: 'must not have a fragment' };
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const literalAddress = ipaddr.isValid(hostname) ? hostname : undefined;
  const loopbackHost = LOOPBACK_NAMES.has(hostname.toLowerCase()) || (literalAddress !== undefined && ipaddr.parse(literalAddress).range() === 'loopback');
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && allowLoopback && loopbackHost)) {
    return { ok: false, description: allowLoopback ? 'must be https (http only for a loopback host)' : 'must be https' };
  }
  if (LOOPBACK_NAMES.has(hostname.toLowerCase()) && !allowLoopback) return { ok: false, description: 'loopback hosts are not allowed' };
  if (literalAddress !== undefined) {
    const verdict = checkAddress(literalAddress, allowLoopback);
    if (!verdict.ok) return { ok: false, description: `address ${literalAddress} is not public (${verdict.range})` };
  }
  return { ok: true, url: { href: url.href, hostname, literalAddress } };
}
