// Debian's Chromium for the browser tests (test/browser) and `npm run
// screenshots`: found on PATH (or CHROMIUM_BIN); when missing, on
// Debian/Ubuntu as root, installed from the distribution's packages with
// apt-get, the way haproxy.mjs installs HAProxy. playwright-core drives it
// (no browser download from Playwright's CDN).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const APT_TIMEOUT_MS = 600_000;
const NAMES = ['chromium', 'chromium-browser'];

/** Absolute path of a Chromium binary, or undefined. */
function onPath() {
  const dirs = (process.env.PATH ?? '').split(':').filter(Boolean);
  const candidates = [process.env.CHROMIUM_BIN, ...NAMES.flatMap((name) => dirs.map((dir) => join(dir, name))), '/usr/bin/chromium', '/usr/lib/chromium/chromium'];
  return candidates.filter(Boolean).find((path) => existsSync(path));
}

/**
 * Finds Chromium; on Debian/Ubuntu as root installs it with apt-get when missing
 * (`chromium` and a font package, so pages render text the same everywhere).
 * @param {{ install?: boolean, log?: (line: string) => void }} [options]
 * @returns {string | undefined}
 */
export function findChromium({ install = true, log = () => {} } = {}) {
  const found = onPath();
  if (found) return found;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!install || !isRoot || !existsSync('/usr/bin/apt-get')) return undefined;
  const aptEnv = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const known = spawnSync('apt-cache', ['show', '--no-all-versions', 'chromium'], { stdio: 'ignore', timeout: 60_000 }).status === 0;
  if (!known) spawnSync('apt-get', ['update'], { stdio: 'ignore', timeout: APT_TIMEOUT_MS, env: aptEnv });
  log('chromium not found: installing it with apt-get (Debian package chromium)');
  spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'chromium', 'fonts-liberation'], { stdio: 'ignore', timeout: APT_TIMEOUT_MS, env: aptEnv });
  return onPath();
}

/** Why the browser tests cannot run here, or null when Chromium is (or can be made) available. */
export function chromiumUnavailableReason() {
  if (onPath()) return null;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (isRoot && existsSync('/usr/bin/apt-get')) return null;
  return 'no chromium on PATH (set CHROMIUM_BIN, or run as root on Debian/Ubuntu so it can be installed with apt-get)';
}

/**
 * Launch arguments for headless Chromium: --no-sandbox only as root (Chromium
 * refuses to start its sandbox as root; as another user the sandbox stays on).
 */
export function chromiumArgs() {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  return [...(isRoot ? ['--no-sandbox'] : []), '--disable-dev-shm-usage', '--disable-gpu', '--no-first-run', '--no-default-browser-check', '--disable-extensions'];
}
