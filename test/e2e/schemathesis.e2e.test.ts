// The contract says what the server enforces: schemathesis (every check) against
// the live system, through REST only, must find nothing. A bounded, seeded run,
// authenticated: secured operations carry an admin's access token (schemathesis.toml,
// [auth.openapi.bearerAuth]); its ignored_auth check also calls them without one.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { contractPaths } from '@wallet/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureSchemathesis, SCHEMATHESIS_VERSION } from '../../scripts/lib/schemathesis.mjs';
import { ADMIN, startSystem, type RunningSystem } from './harness.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const CONFIG_FILE = join(here, 'schemathesis.toml');
/** Cases per operation and phase: enough to reach every rule, small enough for ~1 minute. */
const EXAMPLES_MAX = 15;
const SEED = 20261201;
// 35 operations since issue 15 (holds, limits, reversals, refunds, statements, webhooks): about
// 4 minutes on a quiet machine, so room for a loaded one.
const RUN_TIMEOUT_MS = 600_000;

interface StRun {
  exitCode: number | null;
  output: string;
  durationMs: number;
}

/** Runs `st` without blocking the event loop; the access token reaches it through the environment (never argv). */
function runSchemathesis(st: string, args: string[], accessToken: string): Promise<StRun> {
  const startedMs = Date.now();
  return new Promise((resolve, reject) => {
    const env = { ...process.env, NO_COLOR: '1', PYTHONHASHSEED: '0', WALLET_SCHEMATHESIS_ACCESS_TOKEN: accessToken };
    const child = spawn(st, args, { env });
    const chunks: string[] = [];
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => chunks.push(chunk.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (exitCode) => {
      clearTimeout(timer);
      resolve({ exitCode, output: chunks.join(''), durationMs: Date.now() - startedMs });
    });
  });
}

describe(`schemathesis ${SCHEMATHESIS_VERSION} against the live system`, () => {
  let system: RunningSystem;
  let st: string;

  beforeAll(async () => {
    st = ensureSchemathesis();
    system = await startSystem({ analytics: true, cardAdapter: true, webhooks: true });
  }, 900_000);

  afterAll(async () => {
    await system?.stop();
  });

  it('finds no request the contract allows but the server refuses, no 5xx, no wrong method answer, no unauthenticated access', async () => {
    // Valid for 15 minutes: longer than the whole bounded run.
    const accessToken = await system.tokenFor(ADMIN);
    const run = await runSchemathesis(st, [
      '--config-file',
      CONFIG_FILE,
      'run',
      contractPaths.openapi,
      '--url',
      system.baseUrl,
      '--checks',
      'all',
      '--max-examples',
      String(EXAMPLES_MAX),
      '--seed',
      String(SEED),
      '--generation-database',
      'none',
      // One worker: CPython 3.11 can fail ast.parse in concurrent threads (hypothesis lambda descriptions).
      '--workers',
      '1',
      '--no-color',
    ], accessToken);
    const summary = run.output.trim().split('\n').slice(-1)[0] ?? '';
    console.log(`schemathesis: ${summary} (${Math.round(run.durationMs / 1000)} s)`);
    // The whole report on failure: every finding with its curl reproduction.
    expect(run.exitCode, run.output).toBe(0);
    expect(summary).not.toMatch(/failure|error/);
    expect(run.output).toMatch(/\d+ generated, \d+ passed/);
  }, RUN_TIMEOUT_MS + 30_000);
});
