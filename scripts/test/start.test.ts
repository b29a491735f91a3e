// `npm start` as a supervisor, against the real launcher: its own PostgreSQL
// and Kafka in a temp data folder, every port from a free base (--port-base),
// no build (--no-build: `npm test` has built). Each step waits on a condition
// with a deadline; nothing sleeps for a fixed time.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { waitFor } from '@wallet/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyPorts } from '../lib/launcher.mjs';
import { portsFor, type Ports } from '../lib/system.mjs';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
const ALICE_ACCOUNT = '123e4567-e89b-12d3-a456-426614174000';

/** Alice's access token through the gateway's token endpoint (the development user npm start seeds). */
async function aliceToken(ports: Ports): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${ports.gatewayHttp}/auth/token`, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'password', username: 'alice', password: 'alice-wallet-demo-pw' }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

const aliceBalance = async (ports: Ports, token: string) =>
  fetch(`http://127.0.0.1:${ports.gatewayHttp}/accounts/${ALICE_ACCOUNT}/balance`, { headers: { authorization: `Bearer ${token}` } });

/** Bounded, but generous: a JVM and six Node services starting on a shared, busy 2-core machine. */
const STARTUP_TIMEOUT_MS = 480_000;
/** The bound on a full stop is 10 s; a little slack for a loaded CI machine. */
const STOP_DEADLINE_MS = 15_000;
const GONE_DEADLINE_MS = 10_000;

interface Launcher {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function launch(dataDir: string, portBase: number): Launcher {
  // The launcher's own infrastructure, not the test run's: unset what npm test exports.
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: 'development', LOG_LEVEL: 'info' };
  delete env.DATABASE_URL;
  delete env.KAFKA_BROKERS;
  // --traces: every service exports its spans to the launcher's OTLP receiver (.data/traces), read by `npm run trace`.
  const child = spawn(process.execPath, ['scripts/start.mjs', '--data-dir', dataDir, '--port-base', String(portBase), '--no-build', '--traces'], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, like a shell job: the Ctrl-C test signals the whole group.
    detached: true,
  });
  let text = '';
  child.stdout!.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => text, exited };
}

async function waitForOutput(launcher: Launcher, pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = launcher.output().match(pattern);
    if (match) return match;
    // Fail at once (not at the deadline) when the launcher is gone.
    if (launcher.child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`no ${pattern} in the launcher output (exit ${launcher.child.exitCode}):\n${launcher.output().slice(-3000)}`);
    }
    await sleep(250);
  }
}

/** Every descendant pid of pid (PostgreSQL backends, the JVM, the services). */
function descendants(pid: number): number[] {
  const rows = execFileSync('ps', ['-e', '-o', 'pid=,ppid='], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((line) => line.trim().split(/\s+/).map(Number));
  const found: number[] = [];
  const queue = [pid];
  while (queue.length) {
    const parent = queue.shift()!;
    for (const [child, ppid] of rows) {
      if (ppid !== parent || found.includes(child!)) continue;
      found.push(child!);
      queue.push(child!);
    }
  }
  return found;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function expectAllGone(pids: number[], ports: Ports) {
  await waitFor(async () => pids.every((pid) => !alive(pid)) || undefined, { what: `pids ${pids.join(',')} gone`, timeoutMs: GONE_DEADLINE_MS });
  await waitFor(async () => (await busyPorts(ports)).length === 0 || undefined, { what: 'every port free', timeoutMs: GONE_DEADLINE_MS });
}

/** A base with every port of the system free. */
async function freePortBase(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const base = 20_000 + Math.floor(Math.random() * 400) * 100;
    if ((await busyPorts(portsFor({ base }))).length === 0) return base;
  }
  throw new Error('no free port range found');
}

describe('npm start supervises the local system', () => {
  let dataDir: string;
  let portBase: number;
  let ports: Ports;
  let first: Launcher;
  let stray: Launcher | undefined;
  let blocker: Server | undefined;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'wallet-start-'));
    portBase = await freePortBase();
    ports = portsFor({ base: portBase });
    first = launch(dataDir, portBase);
    await waitForOutput(first, /E-wallet is up/, STARTUP_TIMEOUT_MS);
  }, STARTUP_TIMEOUT_MS + 10_000);

  afterAll(async () => {
    for (const launcher of [first, stray]) {
      if (launcher?.child.exitCode === null) {
        try {
          process.kill(-launcher.child.pid!, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }
    blocker?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('serves REST once up, to the development user it prints how to log in as', async () => {
    const out = first.output();
    expect(out).toContain(`curl -s http://localhost:${ports.gatewayHttp}/auth/token -d grant_type=password -d username=alice -d password=alice-wallet-demo-pw`);
    expect(out).toContain('-H "Authorization: Bearer $TOKEN"');
    // The printed lines work as they are (curl and sed, like the README's).
    const printed = out
      .split('\n')
      .map((line) => line.replace(/^start\s*\|\s*/, ''))
      .filter((line) => /^(TOKEN=|curl -H)/.test(line));
    expect(printed).toHaveLength(2);
    if (existsSync('/usr/bin/curl') || existsSync('/bin/curl')) {
      const answer = execFileSync('bash', ['-c', printed.join('\n')], { encoding: 'utf8', timeout: 30_000 });
      expect(JSON.parse(answer)).toMatchObject({ accountId: ALICE_ACCOUNT, currency: 'USD' });
    }
    const token = await aliceToken(ports);
    expect((await aliceBalance(ports, token)).status).toBe(200);
    const anonymous = await fetch(`http://127.0.0.1:${ports.gatewayHttp}/accounts/${ALICE_ACCOUNT}/balance`);
    expect(anonymous.status).toBe(401);
  });

  it('with --traces, prints a request\'s trace as a tree by its X-Request-Id and by its trace id', async () => {
    expect(first.output()).toMatch(/start\s*\| traces: spans in .*traces; print one: npm run trace -- /);
    const res = await aliceBalance(ports, await aliceToken(ports));
    expect(res.status).toBe(200);
    const requestId = res.headers.get('x-request-id')!;
    const trace = (id: string) => spawnSync(process.execPath, ['scripts/trace.mjs', '--data-dir', dataDir, id], { cwd: root, encoding: 'utf8', timeout: 30_000 });
    // Spans are exported about a second after the request ends.
    const printed = await waitFor(() => {
      const run = trace(requestId);
      return run.status === 0 && run.stdout.includes('[bank-service]') ? run.stdout : undefined;
    }, { what: 'the trace of the balance request', timeoutMs: 30_000, intervalMs: 500 });
    const lines = printed.split('\n');
    expect(lines[0]).toMatch(/^trace [0-9a-f]{32}: \d+ spans, \d+ services/);
    expect(lines[1]).toMatch(/^\[api-gateway\] GET \/accounts\/:accountId\/balance SERVER [\d.]+ ms /);
    expect(printed).toMatch(/\n {2,}\[bank-service\] wallet\.bank\.v1\.BankService\/GetBalance SERVER /);
    const traceId = lines[0]!.split(' ')[1]!.replace(':', '');
    expect(trace(traceId).stdout).toBe(printed);
    const unknown = trace('no-such-request');
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toContain('no span carries "no-such-request"');
  }, 60_000);

  it('restarts a crashed service with backoff and says so', async () => {
    const pid = Number((await waitForOutput(first, /bank-service\s*\| ready \(pid (\d+)\)/, 1_000))[1]);
    process.kill(pid, 'SIGKILL');
    await waitForOutput(first, /bank-service\s*\| exited unexpectedly \(SIGKILL\); restart in [\d.]+ s/, 30_000);
    const again = await waitForOutput(first, /bank-service\s*\| ready \(pid (\d+)\) again after a restart/, 120_000);
    expect(Number(again[1])).not.toBe(pid);
    // "ready" is the bank's own word; the gateway finds it again at its next
    // health probe (1 s) and its breaker half-opens after its reset timeout.
    // Until then the documented answer is a 503 with Retry-After:
    // dependency-unavailable (breaker open or no SERVING replica, nothing sent)
    // or service-unavailable (the bank's channel failed the call while it came
    // back). A real client waits that long and asks again: so do we,
    // accepting nothing else in between.
    const token = await aliceToken(ports);
    const deadline = Date.now() + 30_000;
    let res = await aliceBalance(ports, token);
    while (res.status !== 200 && Date.now() < deadline) {
      const body = (await res.json()) as { type?: string };
      expect(`${res.status} ${body.type}`).toMatch(/^503 .*(dependency|service)-unavailable$/);
      const retryAfter = Number(res.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThan(0);
      await sleep(Math.min(retryAfter, 5) * 1_000);
      res = await aliceBalance(ports, token);
    }
    expect(res.status).toBe(200);
  }, 180_000);

  it('refuses a second launcher on the same data folder in one line, and leaves the first running', async () => {
    const second = launch(dataDir, portBase);
    expect(await second.exited).toBe(1);
    const lines = second.output().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^npm start: already running \\(pid ${first.child.pid},`));
    expect(first.child.exitCode).toBeNull();
  }, 30_000);

  it('stops services first, then Kafka and PostgreSQL, on Ctrl-C to the process group, leaving nothing behind', async () => {
    const pids = descendants(first.child.pid!);
    expect(pids.length).toBeGreaterThanOrEqual(8); // PostgreSQL (+ backends), Kafka, six services
    const startedMs = Date.now();
    process.kill(-first.child.pid!, 'SIGINT');
    const code = await Promise.race([first.exited, new Promise((resolve) => setTimeout(resolve, STOP_DEADLINE_MS, 'timeout'))]);
    expect(code).toBe(0);
    expect(Date.now() - startedMs).toBeLessThan(STOP_DEADLINE_MS);
    const out = first.output();
    // Services drained (each logged its own stop) before the launcher reported the end.
    expect(out.indexOf('"msg":"stopped"')).toBeGreaterThan(out.indexOf('Ctrl-C: stopping services'));
    expect(out).toMatch(/\| stopped in [\d.]+ s/);
    await expectAllGone(pids, ports);
    expect(existsSync(join(dataDir, 'start.lock'))).toBe(false);
  }, 60_000);

  it('takes nothing with it but leaves nothing behind when the launcher is killed (SIGKILL)', async () => {
    stray = launch(dataDir, portBase);
    await waitForOutput(stray, /E-wallet is up/, STARTUP_TIMEOUT_MS);
    const pids = descendants(stray.child.pid!);
    expect(pids.length).toBeGreaterThanOrEqual(8);
    stray.child.kill('SIGKILL'); // the launcher only: its children must follow on their own
    await stray.exited;
    await expectAllGone(pids, ports);
  }, STARTUP_TIMEOUT_MS + 30_000);

  it('takes over the stale lock with a note, and names a port held by another process in one line', async () => {
    expect(existsSync(join(dataDir, 'start.lock'))).toBe(true); // left by the killed launcher
    blocker = createServer();
    await new Promise<void>((resolve) => blocker!.listen(ports.postgres, '127.0.0.1', resolve));
    const third = launch(dataDir, portBase);
    expect(await third.exited).toBe(1);
    const out = third.output();
    expect(out).toContain('taking over the stale lock');
    const errorLines = out.split('\n').filter((line) => line.startsWith('npm start:'));
    expect(errorLines).toHaveLength(1);
    // 'port X (…)' or, should another process hold one more of ours, 'ports A (…), X (…)'.
    expect(errorLines[0]).toContain(`${ports.postgres} (PostgreSQL)`);
    expect(errorLines[0]).toContain('already in use by another process');
    expect(existsSync(join(dataDir, 'start.lock'))).toBe(false);
  }, 30_000);
});
