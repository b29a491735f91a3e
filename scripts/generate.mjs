#!/usr/bin/env node
// Regenerates all TypeScript from the protobuf contracts (buf + ts-proto) and
// lints them. Runs on `npm install` (postinstall), `npm run build` and
// `npm run generate`. `--lint-only` just runs `buf lint`.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const commonDir = join(root, 'services', 'common');
const genDir = join(root, 'packages', 'contracts', 'src', 'gen');
const require = createRequire(import.meta.url);

function bufBinary() {
  // @bufbuild/buf ships the native binary in a per-platform optional package.
  const pkg = `@bufbuild/buf-${process.platform === 'win32' ? 'win32' : process.platform}-${process.arch === 'x64' ? 'x64' : process.arch}`;
  try {
    return require.resolve(`${pkg}/bin/buf${process.platform === 'win32' ? '.exe' : ''}`);
  } catch {
    return null;
  }
}

function listFiles(dir, prefix = '') {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? listFiles(join(dir, entry.name), `${prefix}${entry.name}/`) : [`${prefix}${entry.name}`],
  );
}

function sameTree(a, b) {
  const filesA = listFiles(a).sort();
  const filesB = listFiles(b).sort();
  return (
    filesA.length === filesB.length &&
    filesA.every((f, i) => f === filesB[i] && readFileSync(join(a, f)).equals(readFileSync(join(b, f))))
  );
}

function run(args) {
  const buf = bufBinary();
  if (!buf) {
    console.error('generate: the buf binary is missing; run `npm ci` at the repository root first.');
    process.exit(1);
  }
  const result = spawnSync(buf, args, { cwd: commonDir, stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(`generate: buf ${args.join(' ')} failed`);
    process.exit(result.status ?? 1);
  }
}

// Inside a production image build with dev dependencies already pruned there is
// nothing to generate with; the generated code was compiled in the build stage.
if (!existsSync(join(root, 'node_modules', 'ts-proto'))) {
  console.log('generate: ts-proto not installed, skipping code generation');
  process.exit(0);
}

run(['lint']);
if (!process.argv.includes('--lint-only')) {
  // Generate into a scratch folder and replace the output only when it changed,
  // so incremental builds (tsc -b) see untouched files when nothing changed.
  const scratch = mkdtempSync(join(tmpdir(), 'wallet-gen-'));
  try {
    run(['generate', '-o', scratch]);
    const produced = join(scratch, 'gen');
    if (sameTree(produced, genDir)) {
      console.log('generate: generated TypeScript is up to date');
    } else {
      rmSync(genDir, { recursive: true, force: true });
      cpSync(produced, genDir, { recursive: true });
      console.log(`generate: TypeScript written to ${genDir}`);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
