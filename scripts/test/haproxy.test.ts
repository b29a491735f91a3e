// HAProxy in front of local replicas (scripts/lib/haproxy.mjs, issue 13): the
// generated configuration, checked by haproxy itself, and its behaviour with a
// real haproxy in front of two small HTTP servers standing in for gateways:
// round robin, health checks, which requests are resent to the other server.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '@wallet/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { findHaproxy, haproxyConfig, haproxyLaunch, serverStates, startHaproxy, type StartedHaproxy } from '../lib/haproxy.mjs';
import type { LoadBalancerSpec } from '../lib/system.mjs';

const specFor = (statsPort: number, gateway: { port: number; backends: Array<{ key: string; port: number }> }, identity?: LoadBalancerSpec['frontends']['identity']): LoadBalancerSpec => ({
  key: 'loadBalancer',
  name: 'haproxy',
  instanceName: 'haproxy',
  statsPort,
  statsUrl: `http://127.0.0.1:${statsPort}/stats`,
  metricsUrl: `http://127.0.0.1:${statsPort}/metrics`,
  readyUrl: `http://127.0.0.1:${statsPort}/healthz`,
  frontends: {
    gateway: { port: gateway.port, mode: 'http', backends: gateway.backends.map((b) => ({ key: b.key as 'gateway', port: b.port, checkPort: b.port, checkPath: '/readyz' })) },
    ...(identity ? { identity } : {}),
  },
});

describe('haproxy configuration', () => {
  const spec = specFor(8404, { port: 8080, backends: [{ key: 'gateway', port: 8100 }, { key: 'gateway.2', port: 8120 }] }, {
    port: 8090,
    mode: 'tcp',
    backends: [
      { key: 'identity', port: 8110, checkPort: 9105, checkPath: '/readyz' },
      { key: 'identity.2', port: 8130, checkPort: 9125, checkPath: '/readyz' },
    ],
  });

  it('balances the gateways in http mode with health checks, redispatching retries, and resends only what is safe to resend', () => {
    const config = haproxyConfig(spec);
    expect(config).toContain('bind 127.0.0.1:8080');
    expect(config).toContain('server gateway.2 127.0.0.1:8120 check');
    expect(config).toContain('option httpchk GET /readyz');
    expect(config).toContain('option redispatch 1');
    expect(config).toMatch(/retry-on conn-failure empty-response junk-response response-timeout 503/);
    expect(config).toContain('http-request disable-l7-retry if !idempotent_method !has_idempotency_key');
    expect(config).toContain('acl has_idempotency_key req.hdr(idempotency-key) -m found');
  });

  it('passes the identity TLS through in tcp mode, checked on each instance\'s ops port', () => {
    const config = haproxyConfig(spec);
    const identity = config.slice(config.indexOf('backend identity'));
    expect(identity).toContain('mode tcp');
    expect(identity).toContain('server identity.2 127.0.0.1:8130 check port 9125');
    expect(identity).not.toContain('retry-on');
  });

  it('serves stats, Prometheus metrics and a health URL on the stats port', () => {
    const config = haproxyConfig(spec);
    expect(config).toContain('bind 127.0.0.1:8404');
    expect(config).toContain('monitor-uri /healthz');
    expect(config).toContain('http-request use-service prometheus-exporter if { path /metrics }');
  });

  it('refuses server names and ports that would not make a valid configuration', () => {
    expect(() => haproxyConfig(specFor(8404, { port: 8080, backends: [{ key: 'gate way', port: 8100 }] }))).toThrow(/server name/);
    expect(() => haproxyConfig(specFor(8404, { port: 8080, backends: [{ key: 'gateway', port: 70_000 }] }))).toThrow(/TCP port/);
    expect(() => haproxyConfig(specFor(8404, { port: 8080, backends: [] }))).toThrow(/at least one backend/);
  });

  it('is accepted by haproxy -c', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wallet-haproxy-test-'));
    try {
      const binary = findHaproxy();
      expect(binary, 'haproxy (apt-get install haproxy)').toBeTruthy();
      const launch = haproxyLaunch(spec, { dir, binary: binary! });
      expect(launch.args).toEqual(['-db', '-f', launch.configPath]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
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

type Mode = 'ok' | 'drop';
interface Backend {
  name: string;
  port: number;
  server: Server;
  sockets: Set<Socket>;
  mode: Mode;
  ready: boolean;
  /** Request ids (x-test-id) this backend received on /work. */
  seen: string[];
}

async function startBackend(name: string): Promise<Backend> {
  const port = await freePort();
  const backend: Backend = { name, port, server: undefined as unknown as Server, sockets: new Set(), mode: 'ok', ready: true, seen: [] };
  backend.server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on('end', () => {
      if (req.url === '/readyz') {
        res.writeHead(backend.ready ? 200 : 503).end();
        return;
      }
      backend.seen.push(String(req.headers['x-test-id']));
      // An answer lost after the request was sent (the ambiguous case).
      if (backend.mode === 'drop') req.socket.destroy();
      else res.writeHead(200, { 'content-type': 'text/plain' }).end(name);
    });
  });
  backend.server.on('connection', (socket) => {
    backend.sockets.add(socket);
    socket.on('close', () => backend.sockets.delete(socket));
  });
  await new Promise<void>((resolve) => backend.server.listen(port, '127.0.0.1', resolve));
  return backend;
}

async function closeBackend(backend: Backend): Promise<void> {
  const closed = new Promise<void>((resolve) => backend.server.close(() => resolve()));
  for (const socket of backend.sockets) socket.destroy();
  await closed;
}

describe('haproxy in front of two backends', () => {
  let dir: string;
  let a: Backend;
  let b: Backend;
  let lb: StartedHaproxy;
  let baseUrl: string;
  let statsUrl: string;
  let counter = 0;

  const send = async (method: string, headers: Record<string, string> = {}) => {
    const id = `r${(counter += 1)}`;
    try {
      const res = await fetch(`${baseUrl}/work`, { method, headers: { 'x-test-id': id, ...headers }, ...(method === 'POST' ? { body: '{}' } : {}), signal: AbortSignal.timeout(10_000) });
      return { id, status: res.status, body: await res.text() };
    } catch {
      // HAProxy closes the client's connection when the server's closed without an answer: as ambiguous as a 502.
      return { id, status: 0, body: '' };
    }
  };
  const bothUp = () => waitFor(async () => {
    const states = await serverStates(statsUrl);
    return states['gateway/a']?.startsWith('UP') && states['gateway/b']?.startsWith('UP') ? true : undefined;
  }, { what: 'both backends up', timeoutMs: 10_000 });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'wallet-haproxy-run-'));
    [a, b] = await Promise.all([startBackend('a'), startBackend('b')]);
    const spec = specFor(await freePort(), { port: await freePort(), backends: [{ key: 'a', port: a.port }, { key: 'b', port: b.port }] });
    lb = await startHaproxy(spec, { dir });
    baseUrl = `http://127.0.0.1:${spec.frontends.gateway!.port}`;
    statsUrl = spec.statsUrl;
  });
  afterEach(async () => {
    for (const backend of [a, b]) Object.assign(backend, { mode: 'ok', ready: true, seen: [] });
    if (!a.server.listening) a.server.listen(a.port, '127.0.0.1');
    await bothUp();
  });
  afterAll(async () => {
    await lb?.stop();
    await Promise.all([a, b].filter(Boolean).map(closeBackend));
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends requests to both backends (round robin) and exposes Prometheus metrics', async () => {
    await bothUp();
    const answers = await Promise.all(Array.from({ length: 10 }, () => send('GET')));
    expect(answers.every((r) => r.status === 200)).toBe(true);
    expect(a.seen.length).toBeGreaterThan(0);
    expect(b.seen.length).toBeGreaterThan(0);
    const metrics = await (await fetch(lb.metricsUrl)).text();
    expect(metrics).toMatch(/haproxy_server_status\{proxy="gateway",server="a"/);
  });

  it('resends a POST with an Idempotency-Key whose answer was lost to the other backend; never a POST without one', async () => {
    await bothUp();
    a.mode = 'drop';
    const keyed = await Promise.all(Array.from({ length: 6 }, (_, i) => send('POST', { 'idempotency-key': `k-${counter}-${i}` })));
    expect(keyed.map((r) => r.status)).toEqual(keyed.map(() => 200));
    expect(keyed.every((r) => r.body === 'b')).toBe(true);
    // A saw some of them first (round robin), and each of those reached B as well.
    const resent = keyed.filter((r) => a.seen.includes(r.id));
    expect(resent.length).toBeGreaterThan(0);
    for (const r of resent) expect(b.seen).toContain(r.id);

    a.seen = [];
    b.seen = [];
    const unkeyed = [];
    for (let i = 0; i < 6; i += 1) unkeyed.push(await send('POST'));
    const reachedA = unkeyed.filter((r) => a.seen.includes(r.id));
    expect(reachedA.length).toBeGreaterThan(0);
    for (const r of reachedA) {
      expect([0, 502]).toContain(r.status);
      expect(b.seen).not.toContain(r.id);
    }
    for (const r of unkeyed.filter((x) => !a.seen.includes(x.id))) expect(r.status).toBe(200);
  });

  it('takes a backend whose /readyz answers 503 (draining) out of rotation within a bounded time', async () => {
    await bothUp();
    a.ready = false;
    await waitFor(async () => ((await serverStates(statsUrl))['gateway/a']?.startsWith('DOWN') ? true : undefined), { what: 'a marked down', timeoutMs: 5_000 });
    a.seen = [];
    const answers = await Promise.all(Array.from({ length: 8 }, () => send('GET')));
    expect(answers.every((r) => r.status === 200 && r.body === 'b')).toBe(true);
    expect(a.seen).toEqual([]);
  });

  it('sends even a POST without a key to the other backend when the first refuses the connection (nothing was sent)', async () => {
    await bothUp();
    await closeBackend(a);
    const answers = [];
    for (let i = 0; i < 6; i += 1) answers.push(await send('POST'));
    expect(answers.map((r) => r.status)).toEqual(answers.map(() => 200));
    expect(answers.every((r) => r.body === 'b')).toBe(true);
  });
});
