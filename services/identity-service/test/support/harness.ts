// Starts the identity service in-process on a fresh database, with a clock the
// test can move and every log line captured (to scan for secrets). It serves
// HTTPS with the identity-service certificate of the test PKI, as in every real
// run; requests go through testFetch, which trusts that CA.
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { createTestDatabase, freePort, type TestDatabase } from '@wallet/testkit';
import { pino } from 'pino';
import { Agent, fetch as undiciFetch } from 'undici';
import { testTlsEnv } from '../../../../test/support/pki.js';
import { loadIdentityConfig } from '../../src/config.js';
import { IDENTITY_REDACTED_PATHS, startIdentityService, type RunningIdentity } from '../../src/service.js';
import { dropTestDatabase } from './db.js';

export interface Clock {
  now(): number;
  advance(ms: number): void;
}

export function movableClock(): Clock {
  let offsetMs = 0;
  return { now: () => Date.now() + offsetMs, advance: (ms) => void (offsetMs += ms) };
}

export interface Harness {
  url: string;
  opsUrl: string;
  service: RunningIdentity;
  db: TestDatabase;
  logs: string[];
  clock: Clock;
  stop(): Promise<void>;
}

/** Cheap argon2 parameters so tests spend their time on behaviour, not hashing. */
export const FAST_HASHING = { IDENTITY_ARGON2_MEMORY_KIB: '1024', IDENTITY_ARGON2_ITERATIONS: '1' };

let agent: Promise<Agent> | undefined;

/** An undici agent trusting the test CA (and nothing else): what a service with TLS_CA_FILE uses. */
function testAgent(): Promise<Agent> {
  agent ??= testTlsEnv('identity-service').then((tls) => new Agent({ connect: { ca: readFileSync(tls.TLS_CA_FILE) } }));
  return agent;
}

/** The test CA's certificate (what verifiers pass as caCertificates). */
export async function testCa(): Promise<Buffer> {
  return readFileSync((await testTlsEnv('identity-service')).TLS_CA_FILE);
}

/** fetch that trusts the test CA, for the harness's HTTPS server (plain http URLs work too). */
export async function testFetch(
  url: string,
  init: { method?: string; headers?: Record<string, string> | Headers; body?: string | URLSearchParams; signal?: AbortSignal; redirect?: 'manual' | 'follow' } = {},
): Promise<Response> {
  const headers = Object.fromEntries(new Headers(init.headers));
  let body = init.body;
  if (body instanceof URLSearchParams) {
    // As fetch does for a URLSearchParams body.
    headers['content-type'] ??= 'application/x-www-form-urlencoded;charset=UTF-8';
    body = body.toString();
  }
  const response = await undiciFetch(url, { ...init, headers, ...(body === undefined ? {} : { body }), dispatcher: await testAgent() });
  return response as unknown as Response;
}

export async function startHarness(
  env: Record<string, string> = {},
  options: { db?: TestDatabase; clock?: Clock; logLevel?: string; port?: number } = {},
): Promise<Harness> {
  const db = options.db ?? (await createTestDatabase('identity'));
  const port = options.port ?? (await freePort());
  const clock = options.clock ?? movableClock();
  const config = loadIdentityConfig({
    NODE_ENV: 'test',
    DATABASE_URL: db.url,
    IDENTITY_HTTP_PORT: String(port),
    IDENTITY_OPS_PORT: '0',
    ...(await testTlsEnv('identity-service')),
    ...FAST_HASHING,
    ...env,
  });
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line) logs.push(line);
      done();
    },
  });
  const logger = pino(
    { level: options.logLevel ?? 'trace', base: { service: 'identity-service' }, redact: { paths: IDENTITY_REDACTED_PATHS, censor: '[redacted]' } },
    sink,
  );
  const service = await startIdentityService(config, logger, clock.now);
  return {
    url: config.IDENTITY_ISSUER,
    opsUrl: `http://127.0.0.1:${service.opsPort}`,
    service,
    db,
    logs,
    clock,
    stop: async () => {
      await service.stop();
      if (!options.db) await dropTestDatabase(db);
    },
  };
}

export interface HttpAnswer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
  text: string;
}

async function answer(res: Response): Promise<HttpAnswer> {
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    body = {};
  }
  return { status: res.status, headers: res.headers, body, text };
}

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<HttpAnswer> {
  const res = await testFetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return answer(res);
}

export async function postForm(url: string, params: Record<string, string> | string, headers: Record<string, string> = {}): Promise<HttpAnswer> {
  const body = typeof params === 'string' ? params : new URLSearchParams(params).toString();
  const res = await testFetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body });
  return answer(res);
}

export async function get(url: string, headers: Record<string, string> = {}): Promise<HttpAnswer> {
  return answer(await testFetch(url, { headers }));
}

export function passwordLogin(h: Harness, username: string, password: string, extra: Record<string, string> = {}): Promise<HttpAnswer> {
  return postForm(`${h.url}/auth/token`, { grant_type: 'password', username, password, ...extra });
}

export function refresh(h: Harness, refreshToken: string): Promise<HttpAnswer> {
  return postForm(`${h.url}/auth/token`, { grant_type: 'refresh_token', refresh_token: refreshToken });
}

export function clientToken(h: Harness, clientId: string, clientSecret: string, extra: Record<string, string> = {}): Promise<HttpAnswer> {
  return postForm(`${h.url}/auth/token`, { grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret, ...extra });
}

export async function register(h: Harness, username: string, password: string): Promise<HttpAnswer> {
  return postJson(`${h.url}/auth/register`, { username, password });
}
