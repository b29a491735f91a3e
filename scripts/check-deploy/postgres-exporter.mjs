// The real postgres_exporter, at the version of the image compose pins
// (POSTGRES_EXPORTER_IMAGE in .env), built from its Go module and cached under
// ~/.cache/e-wallet/tools like the docker compose CLI (compose-cli.mjs), so a
// test can check the pg_* names the dashboards use against what it exports.
// (The Kafka exporter's module is not served by the Go module proxy: its names
// stay on the allow-list, deploy/observability/exporter-metrics.yml.)
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { root, toolsCacheDir } from '../lib/paths.mjs';
import { parseDotenv } from './compose-model.mjs';

const MODULE = 'github.com/prometheus-community/postgres_exporter';
const BUILD_TIMEOUT_MS = 30 * 60_000;

/** The version compose runs: the tag of POSTGRES_EXPORTER_IMAGE in .env (e.g. v0.17.1). */
export function postgresExporterVersion() {
  const image = parseDotenv(readFileSync(join(root, '.env'), 'utf8')).POSTGRES_EXPORTER_IMAGE ?? '';
  const tag = /:(v\d+\.\d+\.\d+)$/.exec(image)?.[1];
  if (!tag) throw new Error(`.env POSTGRES_EXPORTER_IMAGE=${image}: expected a vX.Y.Z tag`);
  return tag;
}

export function postgresExporterPath(cacheDir = join(toolsCacheDir, 'tools')) {
  return join(cacheDir, `postgres_exporter-${postgresExporterVersion()}`);
}

/** Why it cannot be built here, or null. */
export function postgresExporterUnavailableReason(cacheDir) {
  if (existsSync(postgresExporterPath(cacheDir))) return null;
  if (process.platform === 'win32') return 'not built on Windows';
  const go = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (go.error || go.status !== 0) return `no Go toolchain on PATH to build postgres_exporter (${go.error?.message ?? go.stderr.trim()})`;
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
export function ensurePostgresExporter(options = {}) {
  const cacheDir = options.cacheDir ?? join(toolsCacheDir, 'tools');
  const log = options.log ?? (() => {});
  const binary = postgresExporterPath(cacheDir);
  if (existsSync(binary)) return binary;
  const reason = postgresExporterUnavailableReason(cacheDir);
  if (reason) throw new Error(reason);
  const version = postgresExporterVersion();
  mkdirSync(cacheDir, { recursive: true });
  log(`building postgres_exporter ${version} from ${MODULE} (once; cached in ${cacheDir})`);
  const goEnv = { ...process.env, GOFLAGS: '-buildvcs=false' };
  const info = JSON.parse(run('go', ['mod', 'download', '-json', `${MODULE}@${version}`], { env: goEnv }));
  if (info.Error) throw new Error(`go mod download ${MODULE}@${version}: ${info.Error}`);
  const work = mkdtempSync(join(tmpdir(), 'postgres-exporter-build-'));
  try {
    const src = join(work, 'src');
    cpSync(info.Dir, src, { recursive: true, mode: 0 });
    run('chmod', ['-R', 'u+w', src]);
    const partial = `${binary}.partial-${process.pid}`;
    run('go', ['build', '-trimpath', '-o', partial, './cmd/postgres_exporter'], { cwd: src, env: goEnv });
    renameSync(partial, binary);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return binary;
}
