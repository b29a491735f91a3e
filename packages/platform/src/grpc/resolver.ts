import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { experimental, makeClientConstructor, status as Status, type ChannelCredentials, type ChannelOptions, type Client, type ServiceDefinition, type ServiceError } from '@grpc/grpc-js';
import { service as healthServiceDefinition } from 'grpc-health-check';
import { withTimeout } from '../async.js';
import { formatHostPort, LIST_SCHEME, parseHostPort, TARGET_ADDRESSES_MAX, type HostPort } from './target.js';

// Two grpc-js resolvers (registered with experimental.registerResolver when this
// module loads):
//  - wallet-list:///host:port,host:port  a static list whose names are looked up
//    (all A/AAAA records); grpc-js's own ipv4:/ipv6: schemes take IP literals only.
//  - wallet-health:///<target>  client-side health checking. grpc-js 1.14 does
//    NOT implement the service config's healthCheckConfig (no grpc.health.v1
//    client anywhere in @grpc/grpc-js/src), so this resolver does it: it resolves
//    <target> (host:port, dns:///name:port, ipv4:/ipv6:/wallet-list: lists) to
//    addresses, asks each address's grpc.health.v1 Check (the server as a whole,
//    service ""), and hands grpc-js only the SERVING ones (if none is SERVING, the
//    ones whose probe only timed out: see usableAddresses); it re-resolves and
//    re-probes every probeIntervalMs and whenever the channel asks (a connection
//    dropped). A backend answering UNIMPLEMENTED counts as healthy (gRPC A17).
//    round_robin (grpc-js's load-balancer-round-robin.ts) then spreads calls over
//    the READY connections among them; a killed backend drops out at once by its
//    connection state, a NOT_SERVING one within probeIntervalMs + probeTimeoutMs.
//    Check (polling), not Watch (a stream): an open Watch is an in-flight call that
//    a draining server's tryShutdown would wait for until its forced deadline; a
//    draining server also sends GOAWAY, so new calls leave it at once anyway.

export const HEALTH_SCHEME = 'wallet-health';

/** Channel option carrying the probe setup's id; the grpc.internal.no_subchannel prefix keeps it out of subchannel keys. */
const PROBE_SETUP_KEY = `${experimental.SUBCHANNEL_ARGS_EXCLUDE_KEY_PREFIX}.wallet_health_probe`;

/** Bound on one name lookup (getaddrinfo has none of its own worth waiting for). */
const LOOKUP_TIMEOUT_MS = 2_000;

/** Least time between two refreshes the channel asks for (it asks on every dropped connection). */
const REFRESH_INTERVAL_MS_MIN = 100;

export interface HealthProbeSettings {
  /** How often each address is probed (and names looked up again). */
  probeIntervalMs: number;
  /** Deadline of one probe. */
  probeTimeoutMs: number;
}

export const HEALTH_PROBE_DEFAULTS: HealthProbeSettings = { probeIntervalMs: 1_000, probeTimeoutMs: 500 };

interface ProbeSetup extends HealthProbeSettings {
  credentials: ChannelCredentials;
  channelOptions: ChannelOptions;
}

// The resolver gets the channel's options but not its credentials: the channel
// carries an id, the setup lives here for the client's lifetime.
const probeSetups = new Map<number, ProbeSetup>();
let probeSetupCount = 0;

/** The target and channel option that make a channel health-aware (used by createGrpcClient). */
export function healthAwareChannel(target: string, setup: ProbeSetup): { target: string; option: ChannelOptions; release: () => void } {
  probeSetupCount += 1;
  const id = probeSetupCount;
  probeSetups.set(id, setup);
  return { target: `${HEALTH_SCHEME}:///${target}`, option: { [PROBE_SETUP_KEY]: id }, release: () => probeSetups.delete(id) };
}

/** The host:port seeds of a parsed target (see target.ts): names are looked up at each refresh. */
export function targetSeeds(target: string): HostPort[] {
  const scheme = /^(dns|ipv4|ipv6|wallet-list):(?:\/\/[^/]*\/)?(.*)$/.exec(target);
  const list = scheme ? scheme[2]! : target;
  return list.split(',').slice(0, TARGET_ADDRESSES_MAX).map((part) => parseHostPort(part));
}

/**
 * Every address of the seeds (names looked up, all A/AAAA records). A failed
 * lookup keeps that name's last known addresses (`known`, updated here): a DNS
 * hiccup must not take healthy replicas out.
 */
async function resolveSeeds(seeds: HostPort[], known: Map<string, HostPort[]>): Promise<{ addresses: HostPort[]; problems: string[] }> {
  const problems: string[] = [];
  const found = await Promise.all(
    seeds.map(async (seed) => {
      if (isIP(seed.host)) return [seed];
      const key = formatHostPort(seed);
      try {
        const records = await withTimeout(lookup(seed.host, { all: true }), LOOKUP_TIMEOUT_MS, `DNS lookup of ${seed.host}`);
        const addresses = records.map((record) => ({ host: record.address, port: seed.port }));
        known.set(key, addresses);
        return addresses;
      } catch (error) {
        problems.push(`${key}: ${(error as Error).message}`);
        return known.get(key) ?? [];
      }
    }),
  );
  const unique = new Map(found.flat().map((address) => [formatHostPort(address), address]));
  return { addresses: [...unique.values()].slice(0, TARGET_ADDRESSES_MAX), problems };
}

type Listener = experimental.ResolverListener;

function report(listener: Listener, addresses: HostPort[], note: string): void {
  listener(experimental.statusOrFromValue(addresses.map((address) => ({ addresses: [address] }))), {}, null, note);
}

/** wallet-list: looks the names up when the channel asks (start, dropped connections). */
class ListResolver implements experimental.Resolver {
  private readonly seeds: HostPort[];
  private readonly known = new Map<string, HostPort[]>();
  private pending = false;
  private destroyed = false;

  constructor(
    target: experimental.GrpcUri,
    private readonly listener: Listener,
  ) {
    this.seeds = targetSeeds(target.path);
  }

  updateResolution(): void {
    if (this.pending) return;
    this.pending = true;
    this.destroyed = false;
    void resolveSeeds(this.seeds, this.known).then(({ addresses, problems }) => {
      this.pending = false;
      if (this.destroyed) return;
      // An error, not an empty list: round_robin fails calls fast on it (an empty list would queue them).
      if (addresses.length === 0) this.listener(experimental.statusOrFromError({ code: Status.UNAVAILABLE, details: `no address: ${problems.join('; ')}` }), {}, null, '');
      else report(this.listener, addresses, problems.join('; '));
    });
  }

  destroy(): void {
    this.destroyed = true;
  }

  static getDefaultAuthority(target: experimental.GrpcUri): string {
    return target.path.split(',')[0]!.trim();
  }
}

const HealthClient = makeClientConstructor(healthServiceDefinition as unknown as ServiceDefinition, 'grpc.health.v1.Health');
type HealthCheck = (request: { service: string }, options: { deadline: number }, callback: (error: ServiceError | null, response?: { status: string }) => void) => void;

function ipTarget(address: HostPort): string {
  return `${isIP(address.host) === 6 ? 'ipv6' : 'ipv4'}:${formatHostPort(address)}`;
}

/** A probe's verdict: `null` when the address is healthy, else why not and whether it only ran out of time. */
interface ProbeVerdict {
  reason: string;
  /** The probe's deadline passed: the replica may be slow, not down (see refresh's fallback). */
  timedOut: boolean;
}

function probe(client: Client, timeoutMs: number): Promise<ProbeVerdict | null> {
  return new Promise((resolve) => {
    (client as unknown as { check: HealthCheck }).check({ service: '' }, { deadline: Date.now() + timeoutMs }, (error, response) => {
      if (error) resolve(error.code === Status.UNIMPLEMENTED ? null : { reason: `${Status[error.code] ?? error.code}: ${error.details}`, timedOut: error.code === Status.DEADLINE_EXCEEDED });
      else resolve(response?.status === 'SERVING' ? null : { reason: response?.status ?? 'UNKNOWN', timedOut: false });
    });
  });
}

/**
 * The addresses to hand the balancer: the SERVING ones; when none is SERVING,
 * those whose probe only timed out. A saturated machine answers probes late on
 * every replica at once, and excluding them all would turn "slow" into "down"
 * (every call refused, breakers open). Calls to them still carry their own
 * deadlines. Replicas that said NOT_SERVING or refused the connection stay out.
 */
export function usableAddresses<A>(addresses: A[], verdicts: (ProbeVerdict | null)[]): { usable: A[]; fallback: boolean } {
  const healthy = addresses.filter((_, i) => verdicts[i] === null);
  if (healthy.length > 0) return { usable: healthy, fallback: false };
  const slow = addresses.filter((_, i) => verdicts[i]?.timedOut === true);
  return { usable: slow, fallback: slow.length > 0 };
}

/** wallet-health: the SERVING subset of the target's addresses, kept current by probing. */
class HealthResolver implements experimental.Resolver {
  private readonly seeds: HostPort[];
  private readonly setup: ProbeSetup | undefined;
  private readonly probeClients = new Map<string, Client>();
  private readonly known = new Map<string, HostPort[]>();
  private timer: NodeJS.Timeout | undefined;
  private refreshing = false;
  private lastRefreshAtMs = 0;
  private reported: string | undefined;
  private active = false;

  constructor(
    target: experimental.GrpcUri,
    private readonly listener: Listener,
    channelOptions: ChannelOptions,
  ) {
    this.seeds = targetSeeds(target.path);
    this.setup = probeSetups.get(channelOptions[PROBE_SETUP_KEY] as number);
  }

  updateResolution(): void {
    this.active = true;
    const sinceMs = Date.now() - this.lastRefreshAtMs;
    if (!this.refreshing) this.schedule(Math.max(0, REFRESH_INTERVAL_MS_MIN - sinceMs));
  }

  destroy(): void {
    this.active = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.reported = undefined;
    for (const client of this.probeClients.values()) client.close();
    this.probeClients.clear();
  }

  private schedule(delayMs: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.refresh(), delayMs);
    this.timer.unref();
  }

  private async refresh(): Promise<void> {
    if (!this.active || this.refreshing) return;
    if (!this.setup) {
      this.listener(experimental.statusOrFromError({ code: Status.UNAVAILABLE, details: 'wallet-health target used without createGrpcClient' }), {}, null, '');
      return;
    }
    this.refreshing = true;
    this.lastRefreshAtMs = Date.now();
    try {
      const { addresses, problems } = await resolveSeeds(this.seeds, this.known);
      const verdicts = await Promise.all(addresses.map((address) => probe(this.probeClient(address), this.setup!.probeTimeoutMs)));
      if (!this.active) return;
      this.closeProbesExcept(addresses);
      const { usable: healthy, fallback } = usableAddresses(addresses, verdicts);
      addresses.forEach((address, i) => verdicts[i] && problems.push(`${formatHostPort(address)} ${verdicts[i]!.reason}`));
      if (fallback) problems.push('none SERVING in time: using the replicas that only timed out');
      const key = healthy.map(formatHostPort).join(',');
      if (key !== this.reported) {
        this.reported = key;
        report(this.listener, healthy, problems.join('; '));
        // None SERVING: calls must fail fast (UNAVAILABLE, saying why), not queue.
        // round_robin queues on an empty list and keeps its old list on an error,
        // so the empty list first drops the old backends, then the error fails calls.
        if (healthy.length === 0) this.listener(experimental.statusOrFromError({ code: Status.UNAVAILABLE, details: `no SERVING backend: ${problems.join('; ')}` }), {}, null, '');
      }
    } finally {
      this.refreshing = false;
      if (this.active) this.schedule(this.setup.probeIntervalMs);
    }
  }

  private probeClient(address: HostPort): Client {
    const key = formatHostPort(address);
    let client = this.probeClients.get(key);
    if (!client) {
      // The channel's own credentials and options: same mTLS identity and server name check.
      client = new HealthClient(ipTarget(address), this.setup!.credentials, this.setup!.channelOptions);
      this.probeClients.set(key, client);
    }
    return client;
  }

  private closeProbesExcept(addresses: HostPort[]): void {
    const keep = new Set(addresses.map(formatHostPort));
    for (const [key, client] of this.probeClients) {
      if (!keep.has(key)) {
        client.close();
        this.probeClients.delete(key);
      }
    }
  }

  static getDefaultAuthority(target: experimental.GrpcUri): string {
    return formatHostPort(targetSeeds(target.path)[0]!);
  }
}

experimental.registerResolver(LIST_SCHEME, ListResolver);
experimental.registerResolver(HEALTH_SCHEME, HealthResolver);
