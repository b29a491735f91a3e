// Measures the identity service's start-up time (spawn -> /readyz 200) and
// resident memory (idle after start, and after 20 logins), on a throwaway
// embedded PostgreSQL. Used for docs/adr/0007-identity-provider.md.
//   node services/identity-service/bench/measure-startup.mjs [runs]
import { spawn } from 'node:child_process';
import { appendFileSync, chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer } from 'node:net';
import { ensurePostgres } from '../../../scripts/lib/postgres.mjs';

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const runs = Number(process.argv[2] ?? 3);

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
/** CPU time the process used (user + system), in ms: comparable even on a loaded machine. */
const cpuMs = (pid) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10; // utime, stime in 1/100 s ticks
};
const rssMiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;

async function waitReady(url, deadlineMs) {
  while (Date.now() < deadlineMs) {
    try {
      if ((await fetch(url, { signal: AbortSignal.timeout(500) })).status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`${url} not ready`);
}

const runDir = mkdtempSync(join(tmpdir(), 'identity-measure-'));
// As in scripts/test.mjs: as root, PostgreSQL runs as another user that must traverse the folder.
chmodSync(runDir, 0o755);
const pgDir = join(runDir, 'postgres');
const startPostgres = async () => ensurePostgres({ dataDir: pgDir, port: await freePort(), databases: [] });
// The server's Unix socket goes into its own data folder: /tmp may not be writable by the postgres user.
let pg = await startPostgres().catch(() => undefined);
if (!pg) {
  appendFileSync(join(pgDir, 'postgresql.conf'), `\nunix_socket_directories = '${pgDir}'\n`);
  pg = await startPostgres();
}
const results = [];
try {
  for (let run = 0; run < runs; run += 1) {
    const [httpPort, opsPort] = [await freePort(), await freePort()];
    const started = performance.now();
    const child = spawn(process.execPath, [MAIN], {
      env: { ...process.env, DATABASE_URL: pg.urlFor('postgres'), IDENTITY_HTTP_PORT: String(httpPort), IDENTITY_OPS_PORT: String(opsPort), IDENTITY_SEED_DEV_USERS: 'true', LOG_LEVEL: 'warn' },
      stdio: 'ignore',
    });
    await waitReady(`http://127.0.0.1:${opsPort}/readyz`, Date.now() + 60_000);
    const readyMs = performance.now() - started;
    const idleRss = rssMiB(child.pid);
    const readyCpuMs = cpuMs(child.pid);
    for (let i = 0; i < 20; i += 1) {
      await fetch(`http://127.0.0.1:${httpPort}/auth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=password&username=alice&password=alice-wallet-demo-pw',
      });
    }
    const busyRss = rssMiB(child.pid);
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    results.push({ run, firstRun: run === 0, readyMs: Math.round(readyMs), readyCpuMs, idleRssMiB: Math.round(idleRss), after20LoginsRssMiB: Math.round(busyRss) });
  }
} finally {
  await pg.stop();
  rmSync(runDir, { recursive: true, force: true });
}
console.log(JSON.stringify({ load: (await import('node:os')).loadavg().map((l) => l.toFixed(1)), results }, null, 1));
