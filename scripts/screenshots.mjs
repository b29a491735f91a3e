#!/usr/bin/env node
// `npm run screenshots`: runs the browser tests (test/browser) against the real
// system, the way `npm test` starts it, and writes the main screens of the web
// app and the console to docs/screenshots/*.png (committed; the README shows them).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { findChromium } from './lib/chromium.mjs';
import { root } from './lib/paths.mjs';

if (!findChromium({ log: (line) => console.log(line) })) {
  console.error('screenshots: no Chromium (install Debian\'s chromium package or set CHROMIUM_BIN)');
  process.exit(1);
}
const build = spawnSync('npm', ['run', 'build', '-w', '@wallet/web'], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);
const dir = join(root, 'docs', 'screenshots');
const run = spawnSync(process.execPath, [join(root, 'scripts', 'test.mjs'), '--no-static', 'test/browser'], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, WALLET_BROWSER_TESTS: '1', WALLET_SCREENSHOTS_DIR: dir }, // even where a caller set WALLET_BROWSER_TESTS=0
});
if (run.status === 0) console.log(`\nscreenshots written to ${dir}`);
process.exit(run.status ?? 1);
