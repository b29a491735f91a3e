// The replicas shape of docker-compose.yml (issue #13), checked without a
// Docker engine: every service of ours runs WALLET_REPLICAS containers, the
// gRPC clients name `dns:///` targets (every replica's address, C1), and an
// HAProxy (deploy/haproxy/haproxy.cfg) is the only published port of the REST
// API, health-checking each gateway on its ops /readyz and retrying on another
// gateway only what is safe to repeat. `haproxy -c` validates the file when an
// haproxy binary is on this machine (scripts/lib/haproxy.mjs installs one).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadCompose, serviceEnvironment, type ComposeService } from '../check-deploy/compose-model.mjs';

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
  for (const candidate of [process.env.HAPROXY_BIN, 'haproxy', '/usr/sbin/haproxy'].filter(Boolean) as string[]) {
    const probe = spawnSync(candidate, ['-v'], { encoding: 'utf8' });
    if (!probe.error && probe.status === 0) return candidate;
  }
  return undefined;
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

  it('retries on another gateway only what is safe to repeat (connection failures; no answer only for idempotent requests or POSTs with an Idempotency-Key)', () => {
    const backend = section('backend gateways');
    expect(section('defaults')).toContain('option redispatch 1');
    expect(Number(section('defaults').find((l) => l.startsWith('retries '))?.split(' ')[1])).toBeLessThanOrEqual(3);
    expect(backend).toContain('retry-on conn-failure empty-response response-timeout');
    expect(backend).toContain('http-request disable-l7-retry if METH_POST !{ req.hdr(idempotency-key) -m found }');
    expect(backend).toContain('http-request disable-l7-retry if { method PATCH } !{ req.hdr(idempotency-key) -m found }');
    // The LB waits longer than the gateway's longest deadline, so it never cuts an answer short.
    const serverTimeoutS = Number(/^timeout server (\d+)s$/.exec(section('defaults').find((l) => l.startsWith('timeout server'))!)?.[1]);
    expect(serverTimeoutS * 1000).toBeGreaterThan(30_000);
  });

  const binary = haproxyBinary();
  if (!binary) console.warn('[compose-replicas.test] haproxy -c skipped: no haproxy binary (HAPROXY_BIN, PATH); Debian: apt-get install haproxy');
  it.skipIf(!binary)('is a configuration HAProxy itself accepts (haproxy -c)', () => {
    const result = spawnSync(binary!, ['-c', '-f', HAPROXY_CONFIG], { encoding: 'utf8', timeout: 30_000 });
    expect(result.status, `${result.stdout}\n${result.stderr}`).toBe(0);
    // And the check can fail: a misspelt keyword is refused.
    const broken = spawnSync(binary!, ['-c', '-f', '/dev/stdin'], { input: 'defaults\n  mode http\n  timout client 1s\n', encoding: 'utf8', timeout: 30_000 });
    expect(broken.status).not.toBe(0);
  });
});
