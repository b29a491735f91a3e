import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Path of a locally installed CLI (works on Windows too). */
export function npxBin(name) {
  return join(root, 'node_modules', '.bin', process.platform === 'win32' ? `${name}.cmd` : name);
}

/**
 * Tools the tests build or install once (docker compose from its Go module, the
 * schemathesis venv): a per-user cache outside the work tree, so every clone on
 * this machine (CI's fresh clone included) reuses them. WALLET_TOOLS_CACHE overrides.
 */
export const toolsCacheDir = process.env.WALLET_TOOLS_CACHE || join(homedir(), '.cache', 'e-wallet');
