// The chaos suite's short form inside `npm test`: the whole system on its own
// private PostgreSQL and Kafka (the run crashes both), every service killed,
// PostgreSQL crashed, Kafka paused and killed, then every invariant checked.
// scripts/chaos/ does the work; this test runs it and shows its report.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
/** A bound, not a target: about 3 minutes on an idle 2-core machine, 8-9 under a load average of 30. */
const RUN_TIMEOUT_MS = 12 * 60_000;

describe('chaos (short form)', () => {
  const outDir = mkdtempSync(join(tmpdir(), 'wallet-chaos-out-'));
  afterAll(() => rmSync(outDir, { recursive: true, force: true }));

  it(
    'keeps every balance, history and top-up exact while services, PostgreSQL and Kafka crash',
    async () => {
      const args = [join(root, 'scripts', 'chaos', 'run.mjs'), '--no-build', '--quiet', '--out', outDir];
      const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
      const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
      clearTimeout(timer);
      let summary: { passed: boolean; violations: { invariant: string; detail: string }[]; faults: unknown[] } | undefined;
      try {
        summary = JSON.parse(readFileSync(join(outDir, 'summary.json'), 'utf8'));
      } catch {
        summary = undefined;
      }
      // The report (faults, recovery times, violations) is the useful failure message.
      if (code !== 0 || !summary?.passed) console.error(output.slice(-20_000));
      expect(summary, `no summary written (exit ${code})`).toBeDefined();
      expect(summary!.violations.slice(0, 20)).toEqual([]);
      expect(summary!.faults.length).toBeGreaterThanOrEqual(7);
      expect(code).toBe(0);
    },
    RUN_TIMEOUT_MS + 60_000,
  );
});
