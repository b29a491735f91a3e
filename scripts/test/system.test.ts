// The one description of the system (scripts/lib/system.mjs): identity wiring
// every launcher (npm start, e2e, bench, chaos) gets. Pure: nothing is started.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensurePki, type Pki } from '../lib/pki.mjs';
import { DEFAULT_PORTS, describeSystem, IDENTITY_HTTPS, PAYMENT_GATEWAY_MOCK_HTTPS, portsFor, type Ports } from '../lib/system.mjs';

const topics = { operations: 'ops', dlq: 'ops.dlq' };
const infraEnv = { DATABASE_URL: 'postgres://u:p@127.0.0.1:5432/wallet', KAFKA_BROKERS: '127.0.0.1:9092' };
let pkiDir: string;
let pki: Pki;
beforeAll(async () => {
  pkiDir = mkdtempSync(join(tmpdir(), 'wallet-system-pki-'));
  pki = await ensurePki({ dir: pkiDir });
});
afterAll(() => rmSync(pkiDir, { recursive: true, force: true }));
const ALL = ['identity', 'bank', 'paymentGatewayMock', 'analytics', 'cardAdapter', 'gateway'] as const;
const describeAt = (ports: Ports, extra: Partial<Parameters<typeof describeSystem>[0]> = {}) =>
  describeSystem({ infraEnv, ports, topics, include: [...ALL], pki, ...extra });

describe('system description', () => {
  it('gives the identity-service its ports: 8090/9105 by default, base + 8 / + 9 with a port base, all distinct', () => {
    expect(DEFAULT_PORTS).toMatchObject({ identityHttp: 8090, identityOps: 9105 });
    const ports = portsFor({ base: 30_000 });
    expect(ports).toMatchObject({ identityHttp: 30_008, identityOps: 30_009 });
    expect(new Set(Object.values(ports)).size).toBe(Object.keys(ports).length);
    expect(new Set(Object.values(DEFAULT_PORTS)).size).toBe(Object.keys(DEFAULT_PORTS).length);
  });

  it('starts the identity-service first and points every verifier at it as the issuer', async () => {
    const system = await describeAt(portsFor({ base: 30_000 }));
    const [first, ...rest] = system.services;
    expect(first!.key).toBe('identity');
    // The payment gateway mock stands for an external provider: it verifies no tokens.
    for (const service of rest.filter((s) => s.key !== 'paymentGatewayMock')) expect(service.dependsOn).toContain('identity');
    expect(first!.readyUrl).toBe('http://127.0.0.1:30009/readyz');
    expect(system.issuer).toBe(`${IDENTITY_HTTPS ? 'https' : 'http'}://127.0.0.1:30008`);
    expect(first!.env).toMatchObject({ IDENTITY_ISSUER: system.issuer, IDENTITY_AUDIENCE: 'wallet-api', IDENTITY_SEED_DEV_USERS: 'true' });
    for (const key of ['bank', 'cardAdapter', 'gateway', 'analytics']) {
      const service = system.services.find((s) => s.key === key)!;
      expect(service.env, key).toMatchObject({ AUTH_ISSUER: system.issuer, AUTH_AUDIENCE: 'wallet-api' });
    }
    expect(system.services.find((s) => s.key === 'gateway')!.env.GATEWAY_IDENTITY_URL).toBe(system.issuer);
  });

  it("gives every service its own certificate of the system's PKI (mutual TLS) and no shared service credential", async () => {
    const system = await describeAt(DEFAULT_PORTS);
    expect(system.pki).toBe(pki);
    for (const service of system.services) {
      expect(service.env, service.key).toMatchObject({
        TLS_CA_FILE: pki.caFile,
        TLS_CERT_FILE: pki.services[service.name]!.certFile,
        TLS_KEY_FILE: pki.services[service.name]!.keyFile,
      });
      // ADR 0008's shared secret is gone: the certificate is the caller's identity.
      expect(Object.keys(service.env).filter((name) => name.includes('CREDENTIAL')), service.key).toEqual([]);
    }
    expect(new Set(system.services.map((s) => s.env.TLS_CERT_FILE)).size).toBe(system.services.length);
  });

  it('points the card adapter at the payment gateway mock over HTTPS (mutual TLS), probes the mock on its plain ops port, shares one API key when given', async () => {
    const system = await describeAt(portsFor({ base: 30_000 }), { paymentGatewayApiKey: 'k'.repeat(32) });
    const adapter = system.services.find((s) => s.key === 'cardAdapter')!;
    const mock = system.services.find((s) => s.key === 'paymentGatewayMock')!;
    expect(PAYMENT_GATEWAY_MOCK_HTTPS).toBe(true);
    expect(adapter.env.CARD_ADAPTER_PAYMENT_GATEWAY_URL).toBe('https://127.0.0.1:30004');
    expect(mock.env).toMatchObject({ PAYMENT_GATEWAY_MOCK_HTTP_PORT: '30004', PAYMENT_GATEWAY_MOCK_OPS_PORT: '30014' });
    expect(mock.readyUrl).toBe('http://127.0.0.1:30014/readyz');
    expect(adapter.env.CARD_ADAPTER_PAYMENT_GATEWAY_API_KEY).toBe('k'.repeat(32));
    expect(mock.env.PAYMENT_GATEWAY_MOCK_API_KEY).toBe('k'.repeat(32));
    // Without one, both keep their development default (npm start).
    const local = await describeAt(DEFAULT_PORTS);
    expect(local.services.some((s) => 'CARD_ADAPTER_PAYMENT_GATEWAY_API_KEY' in s.env || 'PAYMENT_GATEWAY_MOCK_API_KEY' in s.env)).toBe(false);
  });

  it("gives the identity-service the web app's redirect URIs on the run's public gateway port", async () => {
    const { services, ports } = await describeAt(DEFAULT_PORTS);
    const uris = services[0]!.env.IDENTITY_WEB_REDIRECT_URIS!.split(',');
    expect(new Set(uris)).toEqual(
      new Set(['localhost', '127.0.0.1'].flatMap((host) => ['app', 'console'].map((p) => `http://${host}:${ports.gatewayHttp}/${p}/callback`))),
    );
  });

  it('wires the webhook-service (when its workspace is included): ports, bank, loopback receivers locally, the gateway and the console point at it', async () => {
    const system = await describeAt(portsFor({ base: 30_000 }), { include: [...ALL, 'webhooks'] });
    const webhooks = system.services.find((s) => s.key === 'webhooks')!;
    expect(DEFAULT_PORTS).toMatchObject({ webhookGrpc: 50054, webhookOps: 9107 });
    expect(webhooks.env).toMatchObject({
      WEBHOOK_GRPC_PORT: '30016',
      WEBHOOK_OPS_PORT: '30017',
      WEBHOOK_BANK_GRPC_ADDRESS: '127.0.0.1:30001',
      WEBHOOK_KAFKA_OPERATIONS_TOPIC: 'ops',
      WEBHOOK_ALLOW_LOOPBACK_URLS: 'true',
      AUTH_ISSUER: system.issuer,
    });
    expect(webhooks.readyUrl).toBe('http://127.0.0.1:30017/readyz');
    expect(webhooks.dependsOn).toEqual(['identity', 'bank']);
    const gateway = system.services.find((s) => s.key === 'gateway')!;
    expect(gateway.env.GATEWAY_WEBHOOK_GRPC_ADDRESS).toBe('127.0.0.1:30016');
    expect(gateway.env.GATEWAY_SYSTEM_OPS_URLS).toContain('webhook-service=http://127.0.0.1:30017');
  });

  it('seeds the development users unless told not to', async () => {
    const { services } = await describeAt(DEFAULT_PORTS, { devUsers: false });
    expect(services[0]!.env.IDENTITY_SEED_DEV_USERS).toBe('false');
  });
});
