// The real Helm CLI, built from its Go module (helm.sh/helm/v3, ./cmd/helm) and
// cached under ~/.cache/e-wallet/tools like postgres_exporter and the docker
// compose CLI, so `npm test` lints and renders deploy/kubernetes/e-wallet
// offline with the code operators run. Needs a Go toolchain the first time only.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { root, toolsCacheDir } from '../lib/paths.mjs';

/** Pinned: Helm 3 (the chart is apiVersion v2, which Helm 3 and 4 both read). */
export const HELM_VERSION = 'v3.22.0';
const MODULE = 'helm.sh/helm/v3';
const BUILD_TIMEOUT_MS = 30 * 60_000;
const RUN_TIMEOUT_MS = 120_000;

/** The chart `npm test` checks. */
export const chartDir = join(root, 'deploy', 'kubernetes', 'e-wallet');

export function helmPath(cacheDir = join(toolsCacheDir, 'tools')) {
  return join(cacheDir, `helm-${HELM_VERSION}${process.platform === 'win32' ? '.exe' : ''}`);
}

/** Why it cannot be built here, or null. */
export function helmUnavailableReason(cacheDir) {
  if (existsSync(helmPath(cacheDir))) return null;
  const go = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (go.error || go.status !== 0) return `no Go toolchain on PATH to build helm ${HELM_VERSION} (${go.error?.message ?? go.stderr.trim()})`;
  return null;
}

function run(command, args, options) {
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: BUILD_TIMEOUT_MS, ...options });
  if (result.error || result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (${result.error?.message ?? `exit ${result.status ?? result.signal}`}):\n${(result.stderr ?? '').slice(-4000)}`);
  }
  return result.stdout;
}

/**
 * Path of the cached binary, built first when missing (`go mod download` of the
 * pinned version, checksummed by the module proxy and sum database, then `go build`).
 * @param {{ cacheDir?: string, log?: (line: string) => void }} [options]
 */
export function ensureHelm(options = {}) {
  const cacheDir = options.cacheDir ?? join(toolsCacheDir, 'tools');
  const log = options.log ?? (() => {});
  const binary = helmPath(cacheDir);
  if (existsSync(binary)) return binary;
  const reason = helmUnavailableReason(cacheDir);
  if (reason) throw new Error(reason);
  mkdirSync(cacheDir, { recursive: true });
  log(`building helm ${HELM_VERSION} from ${MODULE} (once; cached in ${cacheDir})`);
  const goEnv = { ...process.env, GOFLAGS: '-buildvcs=false' };
  const info = JSON.parse(run('go', ['mod', 'download', '-json', `${MODULE}@${HELM_VERSION}`], { env: goEnv }));
  if (info.Error) throw new Error(`go mod download ${MODULE}@${HELM_VERSION}: ${info.Error}`);
  // The module cache is read-only; build in a writable copy.
  const work = mkdtempSync(join(tmpdir(), 'helm-build-'));
  try {
    const src = join(work, 'src');
    cpSync(info.Dir, src, { recursive: true, mode: 0 });
    run('chmod', ['-R', 'u+w', src]);
    const partial = `${binary}.partial-${process.pid}`;
    const started = Date.now();
    run('go', ['build', '-trimpath', '-o', partial, './cmd/helm'], { cwd: src, env: goEnv });
    renameSync(partial, binary);
    log(`built helm in ${Math.round((Date.now() - started) / 1000)} s`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return binary;
}

/**
 * Runs the cached helm with a private, empty home (no repositories, no plugins,
 * no kube context: nothing outside the chart is read, nothing is contacted).
 * @param {string} binary from ensureHelm
 * @param {string[]} args
 * @returns {{ status: number | null, stdout: string, stderr: string }}
 */
export function runHelm(binary, args) {
  const home = mkdtempSync(join(tmpdir(), 'helm-home-'));
  try {
    const env = {
      PATH: process.env.PATH ?? '',
      HOME: home,
      HELM_CACHE_HOME: join(home, 'cache'),
      HELM_CONFIG_HOME: join(home, 'config'),
      HELM_DATA_HOME: join(home, 'data'),
      KUBECONFIG: join(home, 'no-kubeconfig'),
    };
    const result = spawnSync(binary, args, { env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: RUN_TIMEOUT_MS });
    if (result.error) throw result.error;
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}
