// `npm start -- --replicas N` refuses what it cannot run, in one line, before
// starting anything (the full replicated run is test/e2e/replicas.e2e.test.ts).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { portsFor, replicaPortsFor } from '../lib/system.mjs';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');

/** Runs the launcher to its exit (bounded); resolves with its code and output. */
function launch(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['scripts/start.mjs', '--no-build', ...args], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`launcher still running after 30 s:\n${output}`));
    }, 30_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('npm start --replicas', () => {
  let dataDir: string;
  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'wallet-start-replicas-'));
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('refuses a replica count outside 1-8, from the flag or WALLET_REPLICAS, naming it', async () => {
    const flag = await launch(['--data-dir', dataDir, '--replicas', '9']);
    expect(flag.code).toBe(1);
    expect(flag.output.trim()).toMatch(/^npm start: --replicas must be an integer 1-8, got "9" \(usage: .*--replicas <1-8>\]\)$/);
    const variable = await launch(['--data-dir', dataDir], { WALLET_REPLICAS: 'two' });
    expect(variable.code).toBe(1);
    expect(variable.output).toContain('WALLET_REPLICAS must be an integer 1-8, got "two"');
  });

  it('names a busy port of a second replica in one line and starts nothing', async () => {
    const base = 40_000 + Math.floor(Math.random() * 20_000);
    const busyPort = replicaPortsFor(portsFor({ base }), 2)[1]!.bankGrpc;
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(busyPort, '127.0.0.1', resolve));
    try {
      const { code, output } = await launch(['--data-dir', dataDir, '--port-base', String(base), '--replicas', '2']);
      expect(code).toBe(1);
      // The random base may also hit a port some other process holds (CI saw
      // 'ports 57104 (api-gateway REST), 57125 (…) already in use'): the busy
      // replica port must be named either way, on the one refusal line.
      const refusal = output.split('\n').find((line) => line.includes('already in use')) ?? '';
      expect(refusal).toMatch(/^npm start: ports? /);
      expect(refusal).toContain(`${busyPort} (bank-service gRPC, replica 2)`);
      expect(output).not.toMatch(/PostgreSQL|Kafka broker started/);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });
});
