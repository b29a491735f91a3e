// The real Docker Compose CLI, built from its Go module and cached under
// ~/.cache/e-wallet/tools (outside the work tree: every clone reuses it), so
// `npm test` validates docker-compose.yml with the same code `docker compose`
// runs, with no Docker engine. Needs a Go toolchain the first time only.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { root, toolsCacheDir } from '../lib/paths.mjs';

/** Pinned: the Compose v2 line, the last that builds with the Go toolchain CI has (v5 needs go >= 1.26.10). */
export const COMPOSE_VERSION = 'v2.40.3';
const MODULE = 'github.com/docker/compose/v2';
const BUILD_TIMEOUT_MS = 30 * 60_000;

/** Where the binary is (or will be) cached. */
export function composeCliPath(cacheDir = join(toolsCacheDir, 'tools')) {
  return join(cacheDir, `docker-compose-${COMPOSE_VERSION}${process.platform === 'win32' ? '.exe' : ''}`);
}

/** Why the CLI cannot be built here, or null if it can (a Go toolchain answers). */
export function composeCliUnavailableReason(cacheDir) {
  if (existsSync(composeCliPath(cacheDir))) return null;
  const go = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (go.error || go.status !== 0) return `no Go toolchain on PATH to build docker compose ${COMPOSE_VERSION} (${go.error?.message ?? go.stderr.trim()})`;
  return null;
}

function run(command, args, options) {
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: BUILD_TIMEOUT_MS, ...options });
  if (result.error || result.status !== 0) {
    const why = result.error?.message ?? `exit ${result.status ?? result.signal}`;
    throw new Error(`${command} ${args.join(' ')} failed (${why}):\n${(result.stderr ?? '').slice(-4000)}`);
  }
  return result.stdout;
}

/**
 * Returns the path of the cached docker-compose binary, building it first if
 * needed: `go mod download` of the pinned module (checksummed by the Go
 * module proxy and sum database), then `go build ./cmd` in a copy of it.
 * @param {{ cacheDir?: string, log?: (line: string) => void }} [options]
 */
export function ensureComposeCli(options = {}) {
  const cacheDir = options.cacheDir ?? join(toolsCacheDir, 'tools');
  const log = options.log ?? (() => {});
  const binary = composeCliPath(cacheDir);
  if (existsSync(binary)) return binary;
  const reason = composeCliUnavailableReason(cacheDir);
  if (reason) throw new Error(reason);
  mkdirSync(cacheDir, { recursive: true });
  log(`building docker compose ${COMPOSE_VERSION} from ${MODULE} (once; cached in ${cacheDir})`);
  const goEnv = { ...process.env, GOFLAGS: '-buildvcs=false' };
  const info = JSON.parse(run('go', ['mod', 'download', '-json', `${MODULE}@${COMPOSE_VERSION}`], { env: goEnv }));
  if (info.Error) throw new Error(`go mod download ${MODULE}@${COMPOSE_VERSION}: ${info.Error}`);
  // The module cache is read-only; build in a writable copy.
  const work = mkdtempSync(join(tmpdir(), 'compose-build-'));
  try {
    const src = join(work, 'src');
    cpSync(info.Dir, src, { recursive: true, mode: 0 });
    run('chmod', ['-R', 'u+w', src]);
    const partial = `${binary}.partial-${process.pid}`;
    const started = Date.now();
    run('go', ['build', '-trimpath', '-o', partial, './cmd'], { cwd: src, env: goEnv });
    renameSync(partial, binary);
    log(`built docker compose in ${Math.round((Date.now() - started) / 1000)} s`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return binary;
}

/**
 * `docker compose config` on the repository's compose file: the fully
 * resolved model (interpolated with .env, merged, validated) as JSON.
 * Throws with Compose's own message if the file is invalid.
 * @param {string} binary from ensureComposeCli
 * @param {{ projectDir?: string, env?: Record<string, string> }} [options] env: the shell environment Compose sees
 */
export function composeConfig(binary, options = {}) {
  const projectDir = options.projectDir ?? root;
  // Only what Compose needs: a variable in the test runner's shell would override .env.
  const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir(), ...(options.env ?? {}) };
  const result = spawnSync(binary, ['--project-directory', projectDir, '-f', join(projectDir, 'docker-compose.yml'), '--profile', '*', 'config', '--format', 'json'], {
    env,
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
    timeout: 60_000,
  });
  if (result.error || result.status !== 0) {
    throw new Error(`docker compose config: ${result.error?.message ?? result.stderr.trim()}`);
  }
  return JSON.parse(result.stdout);
}
