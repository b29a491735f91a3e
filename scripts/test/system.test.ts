// The one description of the system (scripts/lib/system.mjs): identity wiring
// every launcher (npm start, e2e, bench, chaos) gets. Pure: nothing is started.
import { describe, expect, it } from 'vitest';
import { DEFAULT_PORTS, describeSystem, DEV_SERVICE_CREDENTIAL, portsFor, type Ports } from '../lib/system.mjs';

const topics = { operations: 'ops', dlq: 'ops.dlq' };
const infraEnv = { DATABASE_URL: 'postgres://u:p@127.0.0.1:5432/wallet', KAFKA_BROKERS: '127.0.0.1:9092' };
const describeAt = (ports: Ports, extra: Partial<Parameters<typeof describeSystem>[0]> = {}) =>
  describeSystem({ infraEnv, ports, topics, include: ['identity', 'bank', 'analytics', 'cardAdapter', 'gateway'], ...extra });

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
    for (const service of rest) expect(service.dependsOn).toContain('identity');
    expect(first!.readyUrl).toBe('http://127.0.0.1:30009/readyz');
    expect(system.issuer).toBe('http://127.0.0.1:30008');
    expect(first!.env).toMatchObject({ IDENTITY_ISSUER: system.issuer, IDENTITY_AUDIENCE: 'wallet-api', IDENTITY_SEED_DEV_USERS: 'true' });
    for (const key of ['bank', 'cardAdapter', 'gateway', 'analytics']) {
      const service = system.services.find((s) => s.key === key)!;
      expect(service.env, key).toMatchObject({ AUTH_ISSUER: system.issuer, AUTH_AUDIENCE: 'wallet-api' });
    }
    expect(system.services.find((s) => s.key === 'gateway')!.env.GATEWAY_IDENTITY_URL).toBe(system.issuer);
  });

  it('gives the bank and the card adapter one random service credential per system (the dev default only when asked)', async () => {
    const credentialsOf = async (extra = {}) => {
      const { services } = await describeAt(DEFAULT_PORTS, extra);
      return [
        services.find((s) => s.key === 'bank')!.env.BANK_CARD_ADAPTER_CREDENTIAL,
        services.find((s) => s.key === 'cardAdapter')!.env.CARD_ADAPTER_BANK_CREDENTIAL,
      ];
    };
    const [bank, adapter] = await credentialsOf();
    expect(bank).toBe(adapter);
    expect(bank!.length).toBeGreaterThanOrEqual(16);
    expect(bank).not.toBe(DEV_SERVICE_CREDENTIAL);
    expect((await credentialsOf())[0]).not.toBe(bank);
    expect(await credentialsOf({ serviceCredential: DEV_SERVICE_CREDENTIAL })).toEqual([DEV_SERVICE_CREDENTIAL, DEV_SERVICE_CREDENTIAL]);
  });

  it('seeds the development users unless told not to', async () => {
    const { services } = await describeAt(DEFAULT_PORTS, { devUsers: false });
    expect(services[0]!.env.IDENTITY_SEED_DEV_USERS).toBe('false');
  });
});
