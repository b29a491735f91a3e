// The pg_* names on the exporter allow-list (deploy/observability/exporter-metrics.yml),
// used by the Infrastructure dashboard, are what the real postgres_exporter at the
// pinned version exports: built from its Go module (scripts/check-deploy/postgres-exporter.mjs)
// and run against the test PostgreSQL. Skipped, saying why, without a Go toolchain.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { parse } from 'yaml';
import { waitFor } from '@wallet/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ensurePostgresExporter,
  postgresExporterUnavailableReason,
  postgresExporterVersion,
} from '../../scripts/check-deploy/postgres-exporter.mjs';
import { observabilityDir } from './support.js';

const list = parse(readFileSync(join(observabilityDir, 'exporter-metrics.yml'), 'utf8')) as {
  exporters: { image: string; prefix: string; metrics: string[] }[];
};
const postgres = list.exporters.find((e) => e.prefix === 'pg_')!;
const unavailable = postgresExporterUnavailableReason() ?? (process.env.DATABASE_URL ? null : 'no DATABASE_URL (run through npm test)');
if (unavailable) console.warn(`[postgres-exporter.test] skipped: ${unavailable}`);

/** A free loopback port (the OS picks it; released before the exporter binds it). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

describe.skipIf(unavailable !== null)(`postgres_exporter ${postgresExporterVersion()} against the test PostgreSQL`, () => {
  let child: ChildProcess | undefined;
  afterAll(() => {
    child?.kill('SIGTERM');
  });

  it('exports every pg_* name on the allow-list', async () => {
    expect(postgres.image.endsWith(`:${postgresExporterVersion()}`)).toBe(true);
    const binary = ensurePostgresExporter({ log: (line) => console.log(`[postgres-exporter.test] ${line}`) });
    const port = await freePort();
    // The server's maintenance database (the run's DATABASE_URL names one only tests create).
    const dsn = new URL(process.env.DATABASE_URL!);
    dsn.pathname = '/postgres';
    const output: string[] = [];
    child = spawn(binary, [`--web.listen-address=127.0.0.1:${port}`], {
      env: { PATH: process.env.PATH ?? '', DATA_SOURCE_NAME: dsn.toString() },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk: Buffer) => output.push(chunk.toString());
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    let last = '';
    const text = await waitFor(
      async () => {
        const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5_000) });
        last = await res.text();
        return /^pg_up(\{[^}]*\})? 1$/m.test(last) ? last : undefined;
      },
      { what: 'postgres_exporter reporting pg_up 1', timeoutMs: 30_000, intervalMs: 250 },
    ).catch((error: Error) => {
      const up = last.split('\n').filter((l) => l.startsWith('pg_up'));
      throw new Error(`${error.message}; ${up.join(' ') || 'no pg_up'}; exporter output:\n${output.join('').slice(-2000)}`);
    });
    const names = new Set([...text.matchAll(/^([a-z_:][a-z0-9_:]*)[{ ]/gm)].map((m) => m[1]!));
    expect(postgres.metrics.filter((name) => !names.has(name))).toEqual([]);
  }, 120_000);
});
