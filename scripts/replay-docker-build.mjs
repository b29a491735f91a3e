#!/usr/bin/env node
// Replays the Dockerfile natively (no Docker engine) once per image compose
// builds, with compose's build arguments: every RUN of the stages the image
// needs, executed for real in a folder standing for the image's filesystem,
// COPY filtered by .dockerignore, then (with --start) each
// service started from its production folder with its docker-compose.yml
// environment against local PostgreSQL and Kafka, until its HEALTHCHECK passes.
//   node scripts/replay-docker-build.mjs [--start] [--keep] [service ...]
// `npm test` runs the same through scripts/test/docker-replay.test.ts.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { composeBuilds, loadCompose } from './check-deploy/compose-model.mjs';
import { listContextFiles } from './check-deploy/dockerignore.mjs';
import { startNativeStack } from './check-deploy/native-stack.mjs';
import { replayBuild } from './check-deploy/replay.mjs';
import { ensureInfra } from './lib/infra.mjs';
import { root } from './lib/paths.mjs';

const args = process.argv.slice(2);
const start = args.includes('--start');
const keep = args.includes('--keep');
const images = composeBuilds(loadCompose(root).model, root);
const all = images.map((image) => image.name);
const wanted = args.filter((a) => !a.startsWith('--'));
for (const name of wanted) {
  if (!all.includes(name)) {
    console.error(`unknown service ${name}; images compose builds: ${all.join(', ')}`);
    process.exit(2);
  }
}
const services = wanted.length ? wanted : all;
const workDir = mkdtempSync(join(tmpdir(), 'wallet-docker-replay-'));
// As in scripts/test.mjs: PostgreSQL, run as an unprivileged user when we are root, must reach its data folder inside.
chmodSync(workDir, 0o755);
const t0 = Date.now();
const log = (line) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${line}`);

let infra;
let stack;
let exitCode = 0;
try {
  const contextFiles = listContextFiles(root);
  const builds = {};
  for (const { name, dockerfilePath, buildArgs } of images.filter((image) => services.includes(image.name))) {
    builds[name] = await replayBuild({
      contextRoot: root,
      dockerfilePath,
      buildArgs,
      cacheDir: join(workDir, 'stages'),
      contextFiles,
      log: (line) => log(`${name}: ${line}`),
    });
    log(`${name}: production folder ${join(builds[name].root, builds[name].workdir)}`);
  }
  if (start) {
    infra = await ensureInfra({ dataDir: join(workDir, 'infra'), purpose: 'test', log: () => {} });
    stack = await startNativeStack({
      root,
      builds,
      adminUrl: infra.env.TEST_DATABASE_ADMIN_URL,
      kafkaBrokers: infra.env.KAFKA_BROKERS,
      log,
      runDir: workDir,
    });
    log(`healthy: ${stack.order.join(', ')}`);
  }
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  exitCode = 1;
} finally {
  await stack?.stop();
  await infra?.stop();
  if (keep) log(`kept ${workDir}`);
  else rmSync(workDir, { recursive: true, force: true });
}
process.exit(exitCode);
