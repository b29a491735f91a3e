// schemathesis (PyPI), pinned, in a virtual environment cached under
// ~/.cache/e-wallet/schemathesis (outside the work tree, so every clone reuses it):
// the first use creates it with the machine's python3, later uses reuse it.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { toolsCacheDir } from './paths.mjs';

export const SCHEMATHESIS_VERSION = '4.32.5';

const INSTALL_TIMEOUT_MS = 10 * 60_000;

function binDir(venvDir) {
  return join(venvDir, process.platform === 'win32' ? 'Scripts' : 'bin');
}

function run(command, args, what) {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: INSTALL_TIMEOUT_MS });
  if (result.status !== 0) {
    const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim().split('\n').slice(-20).join('\n');
    throw new Error(`${what} failed (${result.error?.message ?? `exit ${result.status}`}):\n${output}`);
  }
  return result.stdout;
}

function installedVersion(st) {
  if (!existsSync(st)) return undefined;
  const result = spawnSync(st, ['--version'], { encoding: 'utf8', timeout: 60_000 });
  return result.status === 0 ? /version\s+(\S+)/.exec(result.stdout)?.[1] : undefined;
}

/**
 * Returns the path of the pinned `st` executable, installing it first when
 * missing or of another version. A venv cannot be moved (its scripts name
 * their interpreter by absolute path), so it is built in place and removed
 * again if the install fails: no half venv is ever reused.
 */
export function ensureSchemathesis({ cacheDir = toolsCacheDir, python = process.env.PYTHON ?? 'python3' } = {}) {
  const venvDir = join(cacheDir, 'schemathesis');
  const st = join(binDir(venvDir), process.platform === 'win32' ? 'st.exe' : 'st');
  if (installedVersion(st) === SCHEMATHESIS_VERSION) return st;
  mkdirSync(cacheDir, { recursive: true });
  rmSync(venvDir, { recursive: true, force: true });
  try {
    run(python, ['-m', 'venv', venvDir], `${python} -m venv (on Debian: apt-get install python3-venv)`);
    const pip = join(binDir(venvDir), 'pip');
    run(pip, ['install', '--quiet', '--disable-pip-version-check', `schemathesis==${SCHEMATHESIS_VERSION}`], 'pip install schemathesis');
  } catch (error) {
    rmSync(venvDir, { recursive: true, force: true });
    throw error;
  }
  if (installedVersion(st) !== SCHEMATHESIS_VERSION) throw new Error(`schemathesis ${SCHEMATHESIS_VERSION} is not runnable at ${st}`);
  return st;
}
