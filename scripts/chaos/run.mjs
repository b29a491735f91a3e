#!/usr/bin/env node
// `npm run chaos`: a Jepsen-style bank workload through REST while the nemesis
// kills every service, crashes PostgreSQL and pauses and kills Kafka; then a
// strict check of every balance, history and journal against the model built
// from the acknowledged answers. docs/chaos.md explains the run and its result.
//   npm run chaos                 the short form (<= 3 min)
//   npm run chaos -- --full       the full form (>= 10 min, every fault several times)
//   npm run chaos -- --replicas 2 two instances of each of our services behind HAProxy (issue 13):
//                                 one replica of each kind killed in turn, and the relay leader
//   options: --seed N  --out DIR  --no-build  --keep (keep the temp folder with logs)
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { npxBin, root } from '../lib/paths.mjs';
import * as systemLib from '../lib/system.mjs';

export const PROFILES = {
  // Two tracks side by side (services | analytics, PostgreSQL, Kafka), one round: fits in npm test.
  short: { accounts: 20, workers: 6, rounds: 1, tracks: 2, doubles: false, durationMsMin: 0, tailMs: 5_000, tailMsMax: 90_000, gapMs: [1_000, 2_000], pauseMs: 4_000, downMs: 1_000, settleMs: 45_000, catchUpMs: 60_000 },
  // One fault at a time (clean recovery times) plus double faults, rounds until 10 minutes have passed.
  full: { accounts: 30, workers: 8, rounds: 100, tracks: 1, doubles: true, durationMsMin: 10 * 60_000, tailMs: 15_000, tailMsMax: 180_000, gapMs: [3_000, 8_000], pauseMs: 10_000, downMs: 3_000, settleMs: 120_000, catchUpMs: 120_000 },
};

const { values } = parseArgs({
  options: {
    full: { type: 'boolean', default: false },
    seed: { type: 'string' },
    replicas: { type: 'string' },
    out: { type: 'string' },
    'no-build': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    quiet: { type: 'boolean', default: false },
  },
});
const form = values.full ? 'full' : 'short';
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
if (!Number.isInteger(seed) || seed < 0) {
  console.error(`chaos: --seed must be a non-negative integer, got ${values.seed}`);
  process.exit(2);
}
const REPLICAS_MAX = 8;
const replicas = values.replicas === undefined ? 1 : Number(values.replicas);
if (!Number.isInteger(replicas) || replicas < 1 || replicas > (systemLib.REPLICAS_MAX ?? REPLICAS_MAX)) {
  console.error(`chaos: --replicas must be an integer 1-${systemLib.REPLICAS_MAX ?? REPLICAS_MAX}, got ${values.replicas}`);
  process.exit(2);
}
/**
 * With replicas, one fault at a time in both forms: a replica's loss should
 * cost a client no interval without a successful answer longer than 2 s, and
 * that is only measurable when no other fault overlaps it.
 */
const profile = replicas > 1 ? { ...PROFILES[form], tracks: 1 } : PROFILES[form];
const startedAt = new Date();
const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
const outDir = values.out ?? join(root, '.data', 'chaos', `${form}${replicas > 1 ? `-r${replicas}` : ''}-${stamp}`);
const log = (line) => {
  if (!values.quiet) console.log(`[chaos ${((Date.now() - startedAt.getTime()) / 1000).toFixed(1).padStart(6)} s] ${line}`);
};

if (!values['no-build']) {
  log('building (tsc -b)');
  const build = spawnSync(npxBin('tsc'), ['-b'], { cwd: root, stdio: 'inherit' });
  if (build.status !== 0) {
    console.error('chaos: build failed');
    process.exit(1);
  }
}

const workDir = mkdtempSync(join(tmpdir(), 'wallet-chaos-'));
// As root, PostgreSQL runs as the postgres user, which must traverse this folder.
chmodSync(workDir, 0o755);
let exitCode = 1;
try {
  // Imported after the build: the chaos code reads the services' dist/ (a fresh clone has none yet).
  const { runChaos } = await import('./chaos.mjs');
  const { renderMarkdown } = await import('./report.mjs');
  const summary = await runChaos({ form, profile, seed, workDir, log, replicas });
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  const markdown = renderMarkdown(summary);
  writeFileSync(join(outDir, 'summary.md'), markdown);
  console.log(`\n${markdown}`);
  exitCode = summary.passed ? 0 : 1;
  if (!summary.passed) cpSync(join(workDir, 'logs'), join(outDir, 'logs'), { recursive: true });
  log(`${summary.passed ? 'PASSED' : 'FAILED'}; summary in ${outDir}`);
} catch (error) {
  console.error(`chaos: ${error.stack ?? error}`);
  try {
    cpSync(join(workDir, 'logs'), join(outDir, 'logs'), { recursive: true });
    console.error(`chaos: service logs in ${join(outDir, 'logs')}`);
  } catch {
    // no logs yet
  }
} finally {
  if (values.keep) log(`temp folder kept: ${workDir}`);
  else rmSync(workDir, { recursive: true, force: true });
}
process.exit(exitCode);
