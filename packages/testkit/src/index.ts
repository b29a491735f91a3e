import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';

/** Waits until predicate returns a truthy value, polling; never a fixed sleep. */
export async function waitFor<T>(
  predicate: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  options: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 15_000);
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await predicate();
      if (value) return value;
    } catch (error) {
      lastError = error;
    }
    await sleep(options.intervalMs ?? 50);
  }
  throw new Error(
    `timed out after ${options.timeoutMs ?? 15_000} ms waiting for ${options.what ?? 'condition'}` +
      (lastError ? `: ${String((lastError as Error).message ?? lastError)}` : ''),
  );
}

/** The admin URL of the test PostgreSQL server, set by scripts/test.mjs. */
export function testDatabaseAdminUrl(): string {
  const url = process.env.TEST_DATABASE_ADMIN_URL ?? process.env.DATABASE_URL;
  if (!url) throw new Error('TEST_DATABASE_ADMIN_URL is not set: run tests through `npm test`');
  return url;
}

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/** Creates an empty, uniquely named database on the test server. */
export async function createTestDatabase(prefix = 'test'): Promise<TestDatabase> {
  const adminUrl = testDatabaseAdminUrl();
  const name = `${prefix.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: async () => {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

/**
 * Drops a test database once the connections closed by the test have really
 * gone. pg's Pool.end() resolves before the sockets close, and DROP DATABASE
 * ... WITH (FORCE) would otherwise kill them mid-goodbye, which surfaces as an
 * unhandled "terminating connection" error in the test run.
 */
export async function dropTestDatabase(db: TestDatabase | undefined): Promise<void> {
  if (!db) return;
  const admin = new pg.Client({ connectionString: testDatabaseAdminUrl() });
  await admin.connect();
  try {
    await waitFor(
      async () => {
        const { rows } = await admin.query<{ n: string }>('SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1', [db.name]);
        return Number(rows[0]?.n) === 0;
      },
      { timeoutMs: 5_000, what: `connections to ${db.name} to close` },
    ).catch(() => undefined); // a straggler is then ended by FORCE
  } finally {
    await admin.end();
  }
  await db.drop();
}

/** A free TCP port on loopback. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface ServiceProcess {
  child: ChildProcess;
  logs: string[];
  /** SIGTERM, then SIGKILL after graceMs; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
  /** SIGKILL at once: a crash. */
  kill(): Promise<number | null>;
}

/** Starts a built service (node dist/main.js) with the given environment. */
export function startService(name: string, scriptPath: string, env: Record<string, string>): ServiceProcess {
  const child = spawn(process.execPath, [scriptPath], {
    env: { ...process.env, NODE_ENV: 'test', LOG_LEVEL: process.env.TEST_SERVICE_LOG_LEVEL ?? 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  const capture = (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) {
      if (!line) continue;
      logs.push(line);
      if (logs.length > 2000) logs.shift();
      if (process.env.TEST_SERVICE_LOGS === '1') process.stderr.write(`[${name}] ${line}\n`);
    }
  };
  child.stdout?.on('data', capture);
  child.stderr?.on('data', capture);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
  });
  const stop = async (graceMs = 5000) => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };
  const kill = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    child.kill('SIGKILL');
    return exited;
  };
  return { child, logs, stop, kill };
}

/** Polls GET url until it answers 200. */
export async function waitForHttpOk(url: string, timeoutMs = 20_000): Promise<void> {
  await waitFor(
    async () => {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      return res.status === 200;
    },
    { timeoutMs, intervalMs: 100, what: `${url} to answer 200` },
  );
}

export { createOpenApiResponseValidator } from './openapi.js';
export type { HttpResponseLike, MatchedOperation, OpenApiResponseValidator } from './openapi.js';
export { brokers, createSchemaChecker, createTopics, listTopics, readAllRecords, readTopic, TestProducer, uniqueName } from './kafka.js';
export type { RawRecord, ReadRecord } from './kafka.js';
export { captureSpans, findSecretInSpans, spanTexts } from './spans.js';
export type { SpanCapture } from './spans.js';
export { unimplementedHandlers } from './grpc-fakes.js';
