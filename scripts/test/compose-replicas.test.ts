// The replicas shape of docker-compose.yml (issue #13), checked without a
// Docker engine: every service of ours runs WALLET_REPLICAS containers, the
// gRPC clients name `dns:///` targets (every replica's address, C1), and an
// HAProxy (deploy/haproxy/haproxy.cfg) is the only published port of the REST
// API, health-checking each gateway on its ops /readyz and retrying on another
// gateway only what is safe to repeat. `haproxy -c` validates the file when an
// haproxy binary is on this machine (scripts/lib/haproxy.mjs installs one).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '@wallet/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadCompose, serviceEnvironment, type ComposeService } from '../check-deploy/compose-model.mjs';
import { findHaproxy, serverStates } from '../lib/haproxy.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const { model, dotenv } = loadCompose(root);
const LOAD_BALANCER = 'load-balancer';
const HAPROXY_CONFIG = join(root, 'deploy', 'haproxy', 'haproxy.cfg');
const HAPROXY_CONFIG_IN_CONTAINER = '/usr/local/etc/haproxy/haproxy.cfg';
/** Our replicated services; the payment gateway mock stands for one external provider. */
const REPLICATED = ['api-gateway', 'identity-service', 'bank-service', 'bank-card-adapter', 'analytics-service'];
/** Each gRPC client setting and the compose service + port variable it must name. */
const GRPC_TARGETS: [client: string, variable: string, server: string, portVariable: string][] = [
  ['api-gateway', 'GATEWAY_BANK_GRPC_ADDRESS', 'bank-service', 'BANK_GRPC_PORT'],
  ['api-gateway', 'GATEWAY_CARD_ADAPTER_GRPC_ADDRESS', 'bank-card-adapter', 'CARD_ADAPTER_GRPC_PORT'],
  ['api-gateway', 'GATEWAY_ANALYTICS_GRPC_ADDRESS', 'analytics-service', 'ANALYTICS_GRPC_PORT'],
  ['bank-card-adapter', 'CARD_ADAPTER_BANK_GRPC_ADDRESS', 'bank-service', 'BANK_GRPC_PORT'],
];

const env = (name: string) => serviceEnvironment(model.services[name]!);
type ReplicatedService = ComposeService & { deploy?: ComposeService['deploy'] & { replicas?: number | string } };
const service = (name: string): ReplicatedService => model.services[name]!;

/** haproxy.cfg as sections: `backend gateways` -> its lines (comments and blank lines dropped). */
function haproxySections(text: string): Map<string, string[]> {
  const sections = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) continue;
    if (/^\S/.test(raw)) {
      current = [];
      sections.set(line, current);
    } else {
      current?.push(line.replace(/\s+/g, ' '));
    }
  }
  return sections;
}

const sections = haproxySections(readFileSync(HAPROXY_CONFIG, 'utf8'));
const section = (name: string) => {
  const lines = sections.get(name);
  if (!lines) throw new Error(`haproxy.cfg has no section "${name}"`);
  return lines;
};

function haproxyBinary(): string | undefined {
  return findHaproxy({ install: false });
}

describe('compose replicas: every service of ours several times, clients on every replica', () => {
  it('runs WALLET_REPLICAS (default 2) containers of each of our services and one payment gateway mock', () => {
    for (const name of REPLICATED) {
      expect(Number(service(name).deploy?.replicas), `${name}: deploy.replicas`).toBe(2);
      expect(service(name).deploy?.resources?.limits?.memory, `${name}: keeps its resource limits`).toBeTruthy();
      expect((service(name) as { container_name?: string }).container_name, `${name}: no fixed container name`).toBeUndefined();
      expect(service(name).ports ?? [], `${name}: no published port (several containers)`).toEqual([]);
    }
    const scaled = loadCompose(root, { env: { WALLET_REPLICAS: '3' } }).model.services['bank-service'] as ReturnType<typeof service>;
    expect(Number(scaled.deploy?.replicas)).toBe(3);
    expect(service('payment-gateway-mock').deploy?.replicas).toBeUndefined();
    // The old profile with a named second bank is gone: replicas are the shape, not an extra.
    expect(Object.keys(model.services).filter((n) => /-\d+$/.test(n))).toEqual([]);
  });

  it.each(GRPC_TARGETS)('%s: %s is a dns:/// target of every %s replica on its gRPC port', (client, variable, server, portVariable) => {
    expect(env(client)[variable]).toBe(`dns:///${server}:${env(server)[portVariable]}`);
  });

  it('gives no two analytics replicas one static consumer-group instance id', () => {
    const analytics = env('analytics-service');
    // Same environment in every container: either static membership is off, or no fixed id is set.
    expect(analytics.ANALYTICS_KAFKA_STATIC_MEMBERSHIP).toBe('false');
    expect(analytics.ANALYTICS_KAFKA_GROUP_INSTANCE_ID).toBeUndefined();
  });

  it('tells the gateway that exactly one proxy (the load balancer) stands in front of it', () => {
    expect(env('api-gateway').GATEWAY_TRUST_PROXY).toBe('1');
    expect(section('defaults')).toContain('option forwardfor');
  });

  it('scrapes every replica: Prometheus finds our services through DNS on their ops ports, and the load balancer', () => {
    const config = parse(readFileSync(join(root, 'deploy', 'prometheus', 'prometheus.yml'), 'utf8')) as {
      scrape_configs: { job_name: string; dns_sd_configs?: { names: string[]; type: string; port: number }[]; static_configs?: { targets: string[] }[] }[];
    };
    const opsPort: Record<string, string> = {
      'api-gateway': 'GATEWAY_OPS_PORT',
      'identity-service': 'IDENTITY_OPS_PORT',
      'bank-service': 'BANK_OPS_PORT',
      'bank-card-adapter': 'CARD_ADAPTER_OPS_PORT',
      'analytics-service': 'ANALYTICS_OPS_PORT',
    };
    for (const name of REPLICATED) {
      const job = config.scrape_configs.find((j) => j.job_name === name);
      expect(job?.dns_sd_configs, `${name}: dns_sd_configs`).toEqual([expect.objectContaining({ names: [name], type: 'A', port: Number(env(name)[opsPort[name]!]) })]);
      expect(job?.static_configs, `${name}: no static target (it would be one replica)`).toBeUndefined();
    }
    const lb = config.scrape_configs.find((j) => j.job_name === LOAD_BALANCER);
    expect(lb?.static_configs?.[0]?.targets).toEqual([`${LOAD_BALANCER}:${opsFrontendPort()}`]);
  });
});

function opsFrontendPort(): string {
  const bind = section('frontend ops').find((l) => l.startsWith('bind '));
  return /:(\d+)$/.exec(bind ?? '')?.[1] ?? '';
}

describe('compose load balancer (HAProxy) in front of the gateways', () => {
  const lb = service(LOAD_BALANCER);
  const gateway = env('api-gateway');

  it('is the official HAProxy image pinned in .env, with the checked configuration mounted read-only', () => {
    expect(dotenv.HAPROXY_IMAGE).toMatch(/^haproxy:\d+\.\d+\.\d+(-alpine)?$/);
    expect(lb.image).toBe(dotenv.HAPROXY_IMAGE);
    expect((lb.volumes ?? []).map(String)).toContain(`./deploy/haproxy/haproxy.cfg:${HAPROXY_CONFIG_IN_CONTAINER}:ro`);
    expect((lb as { read_only?: boolean }).read_only).toBe(true);
  });

  it('publishes the REST port that the api frontend binds, and waits for a healthy gateway', () => {
    const bind = section('frontend api').find((l) => l.startsWith('bind '));
    const frontendPort = /:(\d+)$/.exec(bind ?? '')?.[1];
    const ports = (lb.ports ?? []).map((p) => (typeof p === 'string' ? p : JSON.stringify(p)));
    expect(ports).toHaveLength(1);
    expect(ports[0]).toMatch(new RegExp(`^127\\.0\\.0\\.1:${dotenv.GATEWAY_PORT ?? 8080}:${frontendPort}$`));
    expect(section('frontend api')).toContain('default_backend gateways');
    expect(lb.depends_on).toMatchObject({ 'api-gateway': { condition: 'service_healthy' } });
  });

  it('health-checks itself on the ops frontend it serves (monitor-uri)', () => {
    const uri = section('frontend ops').find((l) => l.startsWith('monitor-uri '))!.split(' ')[1];
    expect(JSON.stringify(lb.healthcheck?.test)).toContain(`http://127.0.0.1:${opsFrontendPort()}${uri}`);
    expect(section('frontend ops')).toContain('http-request use-service prometheus-exporter if { path /metrics }');
  });

  it('sends to every gateway replica found by Docker DNS, each checked on its ops /readyz (a draining one leaves the rotation)', () => {
    const backend = section('backend gateways');
    const template = backend.find((l) => l.startsWith('server-template '))!.split(' ');
    // server-template <prefix> <1-N> <service>:<port>
    expect(template[2]).toBe('1-8');
    expect(template[3]).toBe(`api-gateway:${gateway.GATEWAY_HTTP_PORT}`);
    expect(template).toContain('check');
    const defaults = backend.find((l) => l.startsWith('default-server '))!;
    expect(defaults).toContain(`port ${gateway.GATEWAY_OPS_PORT}`);
    expect(defaults).toContain('resolvers docker');
    expect(defaults).toContain('init-addr none');
    expect(section('resolvers docker')).toContain('nameserver docker 127.0.0.11:53');
    expect(backend).toContain('option httpchk');
    expect(backend).toContain('http-check send meth GET uri /readyz');
    expect(backend).toContain('http-check expect status 200');
    // Out of the rotation within fall x inter, inside the gateway's drain window (GATEWAY_DRAIN_MS, 5 s by default).
    const inter = Number(/\binter (\d+)s\b/.exec(defaults)?.[1]);
    const fall = Number(/\bfall (\d+)\b/.exec(defaults)?.[1]);
    expect(inter * fall * 1000).toBeLessThan(5000);
  });

  it('retries on another gateway only what is safe to repeat (connection failures; no answer or a 503 only for idempotent requests or POSTs with an Idempotency-Key)', () => {
    const backend = section('backend gateways');
    expect(section('defaults')).toContain('option redispatch 1');
    expect(Number(section('defaults').find((l) => l.startsWith('retries '))?.split(' ')[1])).toBeLessThanOrEqual(3);
    expect(backend).toContain('option http-buffer-request');
    expect(backend).toContain('retry-on conn-failure empty-response junk-response response-timeout 503');
    expect(backend).toContain('acl idempotent_method method GET HEAD OPTIONS PUT DELETE');
    expect(backend).toContain('acl has_idempotency_key req.hdr(idempotency-key) -m found');
    expect(backend).toContain('http-request disable-l7-retry if !idempotent_method !has_idempotency_key');
    // The LB waits longer than the gateway's longest deadline, so it never cuts an answer short.
    const serverTimeoutS = Number(/^timeout server (\d+)s$/.exec(section('defaults').find((l) => l.startsWith('timeout server'))!)?.[1]);
    expect(serverTimeoutS * 1000).toBeGreaterThan(30_000);
  });

  const binary = haproxyBinary();
  if (!binary) console.warn('[compose-replicas.test] haproxy checks skipped: no haproxy binary (HAPROXY_BIN, PATH); Debian: apt-get install haproxy');
  it.skipIf(!binary)('is a configuration HAProxy itself accepts (haproxy -c)', () => {
    const result = spawnSync(binary!, ['-c', '-f', HAPROXY_CONFIG], { encoding: 'utf8', timeout: 30_000 });
    expect(result.status, `${result.stdout}\n${result.stderr}`).toBe(0);
    // And the check can fail: a misspelt keyword is refused.
    const broken = spawnSync(binary!, ['-c', '-f', '/dev/stdin'], { input: 'defaults\n  mode http\n  timout client 1s\n', encoding: 'utf8', timeout: 30_000 });
    expect(broken.status).not.toBe(0);
  });
});

/** A free loopback port (the kernel's choice). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createTcpServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** A stand-in gateway: the API on one port, /readyz on its ops port, as the real one. */
interface StubGateway {
  httpPort: number;
  opsPort: number;
  http: Server;
  ops: Server;
  sockets: Set<Socket>;
  ready: boolean;
  /** Drop POSTs after reading them, without an answer (the ambiguous case). */
  dropPosts: boolean;
  /** x-test-id of every request the API port received. */
  seen: string[];
}

async function listen(server: Server, port: number): Promise<void> {
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
}

async function startStub(): Promise<StubGateway> {
  const stub: StubGateway = { httpPort: await freePort(), opsPort: await freePort(), http: undefined as unknown as Server, ops: undefined as unknown as Server, sockets: new Set(), ready: true, dropPosts: false, seen: [] };
  stub.http = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      stub.seen.push(String(req.headers['x-test-id']));
      if (stub.dropPosts && req.method === 'POST') req.socket.destroy();
      else res.writeHead(200).end('ok');
    });
  });
  stub.http.on('connection', (socket) => {
    stub.sockets.add(socket);
    socket.on('close', () => stub.sockets.delete(socket));
  });
  stub.ops = createServer((req, res) => res.writeHead(req.url === '/readyz' && stub.ready ? 200 : 503).end());
  await listen(stub.http, stub.httpPort);
  await listen(stub.ops, stub.opsPort);
  return stub;
}

/**
 * deploy/haproxy/haproxy.cfg with only the addresses changed for this machine:
 * loopback binds, and the two stubs in place of the Docker-DNS server template
 * (each checked on its own ops port, as `port 9100` does in compose).
 */
function localConfig(apiPort: number, opsPort: number, stubs: StubGateway[]): string {
  let text = readFileSync(HAPROXY_CONFIG, 'utf8');
  const swap = (from: RegExp, to: string) => {
    if (!from.test(text)) throw new Error(`haproxy.cfg: ${from} not found`);
    text = text.replace(from, to);
  };
  swap(/^ {2}bind :8080$/m, `  bind 127.0.0.1:${apiPort}`);
  swap(/^ {2}bind :8404$/m, `  bind 127.0.0.1:${opsPort}`);
  swap(/^resolvers docker\n(?: {2}.*\n)+/m, '');
  swap(/ port 9100 resolvers docker init-addr none$/m, '');
  swap(/^ {2}server-template gateway 1-8 api-gateway:8080 check$/m, stubs.map((s, i) => `  server gateway${i + 1} 127.0.0.1:${s.httpPort} check port ${s.opsPort}`).join('\n'));
  return text;
}

const lbBinary = haproxyBinary();
describe.skipIf(!lbBinary)('compose load balancer configuration, run by a real haproxy in front of two stand-in gateways', () => {
  let dir: string;
  let stubs: StubGateway[];
  let apiUrl: string;
  let statsUrl: string;
  let lb: ChildProcess | undefined;
  let counter = 0;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'compose-haproxy-'));
    stubs = [await startStub(), await startStub()];
    const [apiPort, opsPort] = [await freePort(), await freePort()];
    apiUrl = `http://127.0.0.1:${apiPort}`;
    statsUrl = `http://127.0.0.1:${opsPort}/stats`;
    writeFileSync(join(dir, 'haproxy.cfg'), localConfig(apiPort, opsPort, stubs));
    lb = spawn(lbBinary!, ['-db', '-f', join(dir, 'haproxy.cfg')], { cwd: dir, stdio: 'ignore' });
    await waitFor(async () => (await fetch(`http://127.0.0.1:${opsPort}/healthz`)).status === 200, { timeoutMs: 15_000, what: 'haproxy /healthz' });
  }, 60_000);

  afterAll(async () => {
    if (lb && lb.exitCode === null) {
      const exited = new Promise((r) => lb!.once('exit', r));
      lb.kill('SIGTERM');
      await exited;
    }
    for (const stub of stubs ?? []) {
      for (const socket of stub.sockets) socket.destroy();
      await Promise.all([new Promise((r) => stub.http.close(r)), new Promise((r) => stub.ops.close(r))]);
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const bothUp = () => waitFor(async () => {
    const states = await serverStates(statsUrl);
    return states['gateways/gateway1']?.startsWith('UP') && states['gateways/gateway2']?.startsWith('UP');
  }, { timeoutMs: 15_000, what: 'both gateways UP' });

  /** One request; its status, or 0 when the connection closed without an answer. */
  async function send(method: string, headers: Record<string, string> = {}): Promise<{ id: string; status: number }> {
    const id = `req-${(counter += 1)}`;
    try {
      const res = await fetch(`${apiUrl}/accounts/x/transfers`, { method, headers: { 'x-test-id': id, connection: 'close', ...headers }, body: method === 'POST' ? '{}' : undefined, signal: AbortSignal.timeout(10_000) });
      await res.arrayBuffer();
      return { id, status: res.status };
    } catch {
      return { id, status: 0 };
    }
  }
  const deliveries = (id: string) => stubs.flatMap((s) => s.seen).filter((seen) => seen === id).length;

  it('spreads requests over every ready gateway, and stops sending to one whose /readyz answers 503 (draining)', async () => {
    await bothUp();
    for (let i = 0; i < 8; i += 1) expect((await send('GET')).status).toBe(200);
    expect(stubs.map((s) => s.seen.length).every((n) => n > 0), 'both gateways served').toBe(true);
    stubs[1]!.ready = false;
    await waitFor(async () => (await serverStates(statsUrl))['gateways/gateway2']?.startsWith('DOWN'), { timeoutMs: 10_000, what: 'gateway2 DOWN' });
    const before = stubs[1]!.seen.length;
    for (let i = 0; i < 6; i += 1) expect((await send('GET')).status).toBe(200);
    expect(stubs[1]!.seen.length, 'no request for the draining gateway').toBe(before);
    stubs[1]!.ready = true;
  }, 60_000);

  it('resends an unanswered POST to the other gateway only when it carries an Idempotency-Key; a keyless one reaches one gateway once', async () => {
    await bothUp();
    stubs[0]!.dropPosts = true;
    try {
      const keyed = [];
      for (let i = 0; i < 6; i += 1) keyed.push(await send('POST', { 'idempotency-key': `key-${i}` }));
      expect(keyed.map((r) => r.status)).toEqual(keyed.map(() => 200));
      expect(keyed.some((r) => deliveries(r.id) === 2), 'a keyed POST dropped by gateway1 was resent to gateway2').toBe(true);
      const keyless = [];
      for (let i = 0; i < 6; i += 1) keyless.push(await send('POST'));
      for (const r of keyless) expect(deliveries(r.id), `${r.id} delivered once (status ${r.status})`).toBe(1);
      expect(keyless.some((r) => r.status !== 200), 'gateway1 dropped some keyless POSTs and they were not resent').toBe(true);
    } finally {
      stubs[0]!.dropPosts = false;
    }
  }, 60_000);

  it('resends even a keyless POST when its connection never opened (nothing was sent)', async () => {
    await bothUp();
    // gateway1's API port closes; its ops port still says ready, so HAProxy still picks it.
    const down = stubs[0]!;
    const closed = new Promise((r) => down.http.close(r));
    for (const socket of down.sockets) socket.destroy();
    await closed;
    try {
      const seenBefore = down.seen.length;
      for (let i = 0; i < 6; i += 1) {
        const r = await send('POST');
        expect(r.status, r.id).toBe(200);
        expect(deliveries(r.id)).toBe(1);
      }
      expect(down.seen.length).toBe(seenBefore);
    } finally {
      await listen(down.http, down.httpPort);
    }
  }, 60_000);
});
