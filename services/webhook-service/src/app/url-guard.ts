// SSRF guard with DNS: a DNS name is allowed only if every address it resolves
// to is (domain/address.ts). Used at registration and inside the delivery
// socket's own lookup, so the address checked is the address connected to
// (DNS rebinding cannot switch it between check and connect).
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { checkAddress, checkEndpointUrl, type EndpointUrl } from '../domain/address.js';
import { urlNotAllowed } from '../domain/errors.js';

export type Resolver = (hostname: string) => Promise<LookupAddress[]>;

export const systemResolver: Resolver = (hostname) =>
  new Promise((resolve, reject) => dnsLookup(hostname, { all: true, verbatim: true }, (error, addresses) => (error ? reject(error) : resolve(addresses))));

export class UrlGuard {
  constructor(
    readonly allowLoopback: boolean,
    private readonly resolver: Resolver = systemResolver,
  ) {}

  /** Registration: shape rules, then every resolved address must be allowed. Throws URL_NOT_ALLOWED. */
  async check(raw: string): Promise<EndpointUrl> {
    const verdict = checkEndpointUrl(raw, this.allowLoopback);
    if (!verdict.ok) throw urlNotAllowed(verdict.description);
    if (verdict.url.literalAddress === undefined) await this.resolveAllowed(verdict.url.hostname);
    return verdict.url;
  }

  /** The resolved addresses, all allowed; throws URL_NOT_ALLOWED (a name that does not resolve too). */
  async resolveAllowed(hostname: string): Promise<LookupAddress[]> {
    let addresses: LookupAddress[];
    try {
      addresses = await this.resolver(hostname);
    } catch {
      throw urlNotAllowed(`host ${hostname} does not resolve`);
    }
    if (addresses.length === 0) throw urlNotAllowed(`host ${hostname} does not resolve`);
    for (const { address } of addresses) {
      const verdict = checkAddress(address, this.allowLoopback);
      if (!verdict.ok) throw urlNotAllowed(`host ${hostname} resolves to ${address}, which is not public (${verdict.range})`);
    }
    return addresses;
  }

  /** A net/tls `lookup` that resolves, checks and hands the socket only a checked address. */
  socketLookup(): LookupFunction {
    return (hostname, options, callback) => {
      this.resolveAllowed(hostname).then(
        (addresses) => {
          const family = typeof options === 'object' && options ? options.family : undefined;
          const chosen = addresses.find((a) => !family || a.family === family) ?? addresses[0]!;
          if (typeof options === 'object' && options?.all) (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, [chosen]);
          else callback(null, chosen.address, chosen.family);
        },
        (error: Error) => callback(Object.assign(error, { code: 'URL_NOT_ALLOWED' }) as NodeJS.ErrnoException, '', 0),
      );
    };
  }
}
