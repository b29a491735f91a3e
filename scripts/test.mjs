#!/usr/bin/env node
// `npm test`: lint, type-check (and build), proto lint, then every test suite
// against real infrastructure that this script starts and stops itself.
//   npm test                      everything
//   npm test -- --no-static        skip lint/type-check (quicker inner loop)
//   npm test -- <vitest filters>   e.g. npm test -- services/bank-service
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureInfra } from './lib/infra.mjs';
import { root, npxBin } from './lib/paths.mjs';

const args = process.argv.slice(2);
const skipStatic = args.includes('--no-static');
const vitestArgs = args.filter((a) => a !== '--no-static');

function step(title, command, commandArgs, { tolerate = false } = {}) {
  console.log(`\n=== ${title}`);
  const result = spawnSync(command, commandArgs, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0 && tolerate) {
    console.warn(`\n${title} failed; continuing because of --no-static`);
  } else if (result.status !== 0) {
    console.error(`\n${title} failed (exit ${result.status ?? result.signal})`);
    process.exit(result.status ?? 1);
  }
}

step('generate + proto lint', process.execPath, ['scripts/generate.mjs']);
// --no-static is the inner loop while several services are mid-change: a build
// error elsewhere must not block running one suite.
step('type-check and build (tsc -b)', npxBin('tsc'), ['-b'], { tolerate: skipStatic });
if (!skipStatic) {
  step('type-check tests', npxBin('tsc'), ['-p', 'tsconfig.tests.json']);
  step('lint (eslint)', npxBin('eslint'), ['.', '--max-warnings=0']);
}

const runDir = mkdtempSync(join(tmpdir(), 'wallet-test-'));
// mkdtemp makes the folder 0700; as root, PostgreSQL runs as a separate system user that must traverse it.
chmodSync(runDir, 0o755);
let infra;
let exitCode = 1;
try {
  console.log('\n=== starting test infrastructure');
  infra = await ensureInfra({ dataDir: runDir, purpose: 'test' });
  const env = { ...process.env, ...infra.env };
  console.log('\n=== tests (vitest)');
  // Partial runs (--no-static) may run side by side: each keeps its own coverage folder.
  const coverageDir = skipStatic ? join(runDir, 'coverage') : join(root, 'coverage');
  const result = spawnSync(npxBin('vitest'), ['run', '--coverage', `--coverage.reportsDirectory=${coverageDir}`, ...vitestArgs], {
    cwd: root,
    stdio: 'inherit',
    env,
  });
  exitCode = result.status ?? 1;
} catch (error) {
  console.error(error);
  exitCode = 1;
} finally {
  await infra?.stop();
  rmSync(runDir, { recursive: true, force: true });
}
process.exit(exitCode);
