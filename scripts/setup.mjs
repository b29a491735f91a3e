#!/usr/bin/env node
// `npm run setup`: one-time developer setup on Windows, macOS or Linux. Checks
// the tools, installs the locked dependencies (which also generates the gRPC
// code) and builds every project.
import { spawnSync } from 'node:child_process';
import { root } from './lib/paths.mjs';

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 19)) {
  console.error(`setup: Node.js >= 20.19 is required, this is ${process.version}`);
  process.exit(1);
}
function run(title, cmd, args) {
  console.log(`\n=== ${title}`);
  const result = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
  if (result.status !== 0) {
    console.error(`setup: ${title} failed`);
    process.exit(result.status ?? 1);
  }
}
const java = spawnSync('java', ['-version'], { stdio: 'ignore', shell: process.platform === 'win32' });
if (java.status !== 0) console.warn('setup: no Java found; `npm start` and `npm test` need a JDK >= 17 (and Maven) for the local Kafka broker.');
run('install locked dependencies (npm ci; generates code)', 'npm', ['ci']);
run('build (generate + tsc -b)', 'npm', ['run', 'build']);
console.log('\nReady: `npm start` runs the wallet, `npm test` tests it, `npm run compose:up` runs it in Docker.');
