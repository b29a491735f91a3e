// promtool (Prometheus' rule checker and rule unit-test runner) and amtool
// (Alertmanager's config checker) for the alert tests: found on PATH, at
// PROMTOOL / AMTOOL, or in the tools cache (~/.cache/e-wallet/tools/); when
// missing, on Debian/Ubuntu installed from the distribution's `prometheus` /
// `prometheus-alertmanager` package with apt-get (as root, else through sudo
// without a password prompt), the way valkey.mjs installs its server.
// Anything else fails with a message that says what to install.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { toolsCacheDir } from './paths.mjs';

const APT_TIMEOUT_MS = 600_000;
const VERSION_TIMEOUT_MS = 30_000;

/** Where a tool may already be: its variable, the tools cache, PATH, /usr/bin. */
function candidates(name, variable) {
  const dirs = (process.env.PATH ?? '').split(':').filter(Boolean);
  return [process.env[variable], join(toolsCacheDir, 'tools', name), ...dirs.map((dir) => join(dir, name)), `/usr/bin/${name}`].filter(Boolean);
}

function findTool(name, variable) {
  return candidates(name, variable).find((path) => existsSync(path) && spawnSync(path, ['--version'], { stdio: 'ignore', timeout: VERSION_TIMEOUT_MS }).status === 0);
}

/** Absolute path of a promtool that answers --version, or undefined. */
export function findPromtool() {
  return findTool('promtool', 'PROMTOOL');
}

/** `apt-get update && apt-get install <pkg>` as root or with `sudo -n`; the reason it cannot, or null. */
function aptInstall(pkg, log) {
  if (!existsSync('/usr/bin/apt-get')) return 'no apt-get here (not Debian/Ubuntu)';
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  let prefix = [];
  if (!isRoot) {
    const sudo = spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore', timeout: VERSION_TIMEOUT_MS });
    if (sudo.error || sudo.status !== 0) return 'not root and no password-less sudo';
    prefix = ['sudo', '-n'];
  }
  // Containers ship a policy-rc.d that keeps the package from starting a Prometheus daemon.
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const run = (args) => {
    const [command, ...rest] = [...prefix, ...args];
    return spawnSync(command, rest, { encoding: 'utf8', timeout: APT_TIMEOUT_MS, env, maxBuffer: 16 * 1024 * 1024 });
  };
  log(`installing Debian package ${pkg} with apt-get (once)`);
  const update = run(['apt-get', 'update']);
  if (update.status !== 0) return `apt-get update failed: ${(update.stderr ?? update.error?.message ?? '').slice(-500)}`;
  const install = run(['apt-get', 'install', '-y', '--no-install-recommends', pkg]);
  if (install.status !== 0) return `apt-get install ${pkg} failed: ${(install.stderr ?? install.error?.message ?? '').slice(-500)}`;
  return null;
}

/**
 * The promtool binary, installed first when missing and allowed.
 * @param {{ install?: boolean, log?: (line: string) => void }} [options]
 * @returns {string}
 */
export function ensurePromtool({ install = true, log = () => {} } = {}) {
  return ensureTool({ name: 'promtool', variable: 'PROMTOOL', pkg: 'prometheus', release: 'Prometheus', install, log });
}

/**
 * The amtool binary (Alertmanager's config checker), installed first when missing and allowed.
 * @param {{ install?: boolean, log?: (line: string) => void }} [options]
 * @returns {string}
 */
export function ensureAmtool({ install = true, log = () => {} } = {}) {
  return ensureTool({ name: 'amtool', variable: 'AMTOOL', pkg: 'prometheus-alertmanager', release: 'Alertmanager', install, log });
}

function ensureTool({ name, variable, pkg, release, install, log }) {
  const found = findTool(name, variable);
  if (found) return found;
  const why = install ? aptInstall(pkg, log) : 'installation not allowed here';
  const installed = why === null ? findTool(name, variable) : undefined;
  if (installed) return installed;
  throw new Error(
    `${name} is needed for the alert tests and was not found (${why ?? `the ${pkg} package has no ${name}`}). ` +
      `Install it: \`apt-get install ${pkg}\` (Debian/Ubuntu), or an ${release} release from https://prometheus.io/download/ ` +
      `and put ${name} on PATH, at ${join(toolsCacheDir, 'tools', name)}, or name it in ${variable}.`,
  );
}

/** The first line of a tool's --version (e.g. "promtool, version 2.42.0 ..."). */
export function promtoolVersion(binary) {
  const out = spawnSync(binary, ['--version'], { encoding: 'utf8', timeout: VERSION_TIMEOUT_MS });
  return `${out.stdout ?? ''}${out.stderr ?? ''}`.split('\n')[0]?.trim() ?? '';
}

/**
 * Runs promtool (or amtool) with args; never throws for a non-zero exit (the caller asserts on it).
 * @returns {{ status: number | null, output: string }}
 */
export function runPromtool(binary, args, { cwd, timeoutMs = 120_000 } = {}) {
  const res = spawnSync(binary, args, { cwd, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 });
  return { status: res.status, output: `${res.stdout ?? ''}${res.stderr ?? ''}${res.error ? `\n${res.error.message}` : ''}` };
}
