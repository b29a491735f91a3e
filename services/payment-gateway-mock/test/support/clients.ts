// Clients of the mock for its tests: HTTPS with the client certificate of a
// named service (the root test PKI), and the merchant's API key.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { mtlsClientOptions } from '@wallet/platform/tls';
import { Agent, fetch, type RequestInit, type Response } from 'undici';
import { createCa, issueServiceCertificate, loadCa, writeServiceFiles } from '../../../../scripts/lib/pki.mjs';
import { testGrpcSecurity, testPki, type ServiceName } from '../../../../test/support/pki.js';

/** The key the tests configure (PAYMENT_GATEWAY_MOCK_API_KEY). */
export const TEST_API_KEY = 'test-payment-gateway-api-key-0123';

/** Clients the mock must refuse at the TLS handshake (each verifies the mock's certificate like the adapter). */
export type RogueKind = 'no-certificate' | 'other-ca' | 'expired';

const agents = new Map<string, Agent>();

/** A bank-card-adapter certificate from another CA, or an expired one from the right CA. */
async function rogueCertificate(kind: 'other-ca' | 'expired'): Promise<{ cert: Buffer; key: Buffer }> {
  const pki = await testPki();
  const dayMs = 24 * 60 * 60 * 1000;
  const ca = kind === 'other-ca' ? await createCa({ name: 'rogue CA' }) : await loadCa(readFileSync(pki.caFile, 'utf8'), readFileSync(pki.caKeyFile, 'utf8'));
  const validity = kind === 'expired' ? { notBefore: new Date(Date.now() - 3 * dayMs), notAfter: new Date(Date.now() - dayMs) } : {};
  const pair = await issueServiceCertificate(ca, 'bank-card-adapter', validity);
  const files = writeServiceFiles(mkdtempSync(path.join(tmpdir(), `mock-rogue-${kind}-`)), 'bank-card-adapter', pair);
  return { cert: readFileSync(files.certFile), key: readFileSync(files.keyFile) };
}

async function agentFor(as: ServiceName | RogueKind): Promise<Agent> {
  let agent = agents.get(as);
  if (agent) return agent;
  const ca = readFileSync((await testPki()).caFile);
  if (as === 'no-certificate') {
    agent = new Agent({ connect: { ca, servername: 'payment-gateway-mock' } });
  } else if (as === 'other-ca' || as === 'expired') {
    agent = new Agent({ connect: { ca, servername: 'payment-gateway-mock', ...(await rogueCertificate(as)) } });
  } else {
    agent = new Agent({ connect: mtlsClientOptions((await testGrpcSecurity(as)).mtls!.provider, 'payment-gateway-mock') });
  }
  agents.set(as, agent);
  return agent;
}

/**
 * A request to the mock as `as` (default: bank-card-adapter, the one allowed
 * caller) with the API key unless `apiKey` is null.
 */
export async function call(
  url: string,
  init: RequestInit = {},
  options: { as?: ServiceName | RogueKind; apiKey?: string | null } = {},
): Promise<Response> {
  const apiKey = options.apiKey === undefined ? TEST_API_KEY : options.apiKey;
  const headers: Record<string, string> = { ...(init.headers as Record<string, string> | undefined) };
  if (apiKey !== null) headers.authorization = `Bearer ${apiKey}`;
  return fetch(url, { ...init, headers, dispatcher: await agentFor(options.as ?? 'bank-card-adapter') });
}

export async function closeClients(): Promise<void> {
  await Promise.all([...agents.values()].map((agent) => agent.close()));
  agents.clear();
}
