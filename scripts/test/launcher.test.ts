import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { acquireLock, busyPorts } from '../lib/launcher.mjs';

const dirs: string[] = [];
const children: ChildProcess[] = [];
const servers: Server[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'wallet-launcher-'));
  dirs.push(dir);
  return dir;
};

afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  for (const server of servers.splice(0)) server.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('npm start lock and port guards', () => {
  it('refuses a second launcher while the lock owner runs, in one line naming its pid', async () => {
    const lockPath = join(tempDir(), 'start.lock');
    // Any live process whose command line names start.mjs counts as a launcher.
    const owner = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', 'start.mjs'], { stdio: 'ignore' });
    children.push(owner);
    await new Promise((resolve) => owner.once('spawn', resolve));
    writeFileSync(lockPath, JSON.stringify({ pid: owner.pid, startedAt: '2026-01-01T00:00:00.000Z', ports: { gatewayHttp: 8080 } }));
    const result = acquireLock(lockPath, { ports: {}, note: () => {} });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.message).toContain(`already running (pid ${owner.pid}`);
    expect(result.message).toContain('REST on port 8080');
    expect(result.message).not.toContain('\n');
  });

  it('takes over a stale lock whose launcher is gone, with a note, and releases it', () => {
    const lockPath = join(tempDir(), 'start.lock');
    writeFileSync(lockPath, JSON.stringify({ pid: 2 ** 22 + 17, startedAt: 'then' }));
    const notes: string[] = [];
    const result = acquireLock(lockPath, { ports: { gatewayHttp: 1 }, note: (line) => notes.push(line) });
    expect(result.ok).toBe(true);
    expect(notes.join()).toContain('taking over the stale lock');
    expect(JSON.parse(readFileSync(lockPath, 'utf8')).pid).toBe(process.pid);
    if (result.ok) result.release();
    expect(existsSync(lockPath)).toBe(false);
  });

  it('treats a half-written lock file as stale', () => {
    const lockPath = join(tempDir(), 'start.lock');
    writeFileSync(lockPath, '{"pid": 12');
    const result = acquireLock(lockPath, { ports: {}, note: () => {} });
    expect(result.ok).toBe(true);
    if (result.ok) result.release();
  });

  it('names the ports that another process holds', async () => {
    const server = createServer();
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const taken = (server.address() as { port: number }).port;
    const free = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as { port: number };
        probe.close(() => resolve(port));
      });
    });
    expect(await busyPorts({ postgres: taken, kafka: free })).toEqual(['postgres']);
    expect(await busyPorts({ postgres: taken }, { skip: ['postgres'] })).toEqual([]);
  });
});
