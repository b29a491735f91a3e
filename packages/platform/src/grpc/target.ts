import { isIPv4, isIPv6 } from 'node:net';

// An address setting (GATEWAY_BANK_GRPC_ADDRESS, CARD_ADAPTER_BANK_GRPC_ADDRESS, ...)
// names one server, a static list of replicas, or a DNS name whose every A/AAAA
// record is a replica (compose, a Kubernetes headless Service). parseGrpcTarget
// turns it into a grpc-js target string:
//   host:port                    -> host:port (grpc-js's default dns resolver)
//   dns:///name:port, dns:name:port -> dns:///name:port (grpc-js's dns resolver: every A/AAAA record)
//   ip:port,ip:port (one family) -> ipv4:a:p,b:p / ipv6:[a]:p,[b]:p (grpc-js's built-in ip resolvers)
//   host:port,host:port (names)  -> wallet-list:///host:port,host:port (our resolver, resolver.ts:
//                                   each name looked up, every address kept; grpc-js has no scheme for
//                                   a list of names)

/** Scheme of a static list with host names (registered by resolver.ts). */
export const LIST_SCHEME = 'wallet-list';

/** Most addresses one setting may list (a bound; 8 replicas is the local maximum). */
export const TARGET_ADDRESSES_MAX = 64;

export class GrpcTargetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GrpcTargetError';
  }
}

export interface HostPort {
  host: string;
  port: number;
}

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*\.?$/;

/** `host:port` or `[ipv6]:port`, port required (no silent 443). */
export function parseHostPort(text: string): HostPort {
  const value = text.trim();
  const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(value);
  const plain = /^([^:[\]]+):(\d+)$/.exec(value);
  const match = bracketed ?? plain;
  if (!match) throw new GrpcTargetError(`"${value}" is not host:port (IPv6 as [addr]:port; the port is required)`);
  const host = match[1]!;
  const port = Number(match[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new GrpcTargetError(`"${value}": port must be 1..65535`);
  if (bracketed ? !isIPv6(host) : !(isIPv4(host) || HOSTNAME.test(host))) throw new GrpcTargetError(`"${value}": "${host}" is not a host name or IP address`);
  return { host, port };
}

export function formatHostPort({ host, port }: HostPort): string {
  return isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * The grpc-js target for an address setting (see the table above); throws
 * GrpcTargetError with a message fit for a ConfigError (the caller adds the
 * variable's name).
 */
export function parseGrpcTarget(value: string): string {
  const text = value.trim();
  if (text === '') throw new GrpcTargetError('empty gRPC address (expected host:port, host:port,host:port or dns:///name:port)');
  const dns = /^dns:(?:\/\/\/)?(.*)$/.exec(text);
  if (dns) {
    if (dns[1]!.includes(',')) throw new GrpcTargetError(`"${text}": a dns: target names one host (its records are the replicas)`);
    return `dns:///${formatHostPort(parseHostPort(dns[1]!))}`;
  }
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(text) || /^(ipv4|ipv6|unix|xds|wallet-[a-z]+):/.test(text)) {
    throw new GrpcTargetError(`"${text}": unsupported scheme (expected host:port, host:port,host:port or dns:///name:port)`);
  }
  const addresses = [...new Map(text.split(',').map((part) => parseHostPort(part)).map((a) => [formatHostPort(a), a])).values()];
  if (addresses.length > TARGET_ADDRESSES_MAX) throw new GrpcTargetError(`"${text}": at most ${TARGET_ADDRESSES_MAX} addresses`);
  if (addresses.length === 1) return formatHostPort(addresses[0]!);
  const list = addresses.map(formatHostPort).join(',');
  if (addresses.every((a) => isIPv4(a.host))) return `ipv4:${list}`;
  if (addresses.every((a) => isIPv6(a.host))) return `ipv6:${list}`;
  return `${LIST_SCHEME}:///${list}`;
}
