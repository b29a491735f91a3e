// Native replay of a Dockerfile: every stage the final image needs is rebuilt
// in a folder that stands for the container's filesystem (an absolute path
// /x inside the image is <stage root>/x here), COPY honours .dockerignore, and
// RUN lines execute for real with `sh -c` in the mapped WORKDIR. No Docker
// engine needed; what cannot be replayed faithfully is an error, not a skip.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, posix } from 'node:path';
import { parseAssignments, readDockerfile, substitute } from './dockerfile.mjs';
import { listContextFiles } from './dockerignore.mjs';

const ALLOWED_COPY_FLAGS = new Set(['from', 'chown', 'chmod', 'link']);
// One RUN (an npm ci of the whole dev tree) on a busy 2-core machine can take several minutes.
const RUN_TIMEOUT_MS = 15 * 60_000;

/** Splits COPY arguments (JSON or whitespace form) into sources and destination. */
function copyOperands(instruction, vars) {
  const parts = instruction.json ?? instruction.args.split(/\s+/).filter(Boolean);
  const resolved = parts.map((p) => substitute(p, vars));
  if (resolved.length < 2) throw new Error(`line ${instruction.line}: COPY needs a source and a destination`);
  return { sources: resolved.slice(0, -1), dest: resolved[resolved.length - 1] };
}

function hashFiles(root, files) {
  const h = createHash('sha256');
  for (const f of files) {
    h.update(f).update('\0').update(readFileSync(join(root, f))).update('\0');
  }
  return h.digest('hex');
}

function run(command, args, options) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    const output = [];
    const keep = (chunk) => {
      output.push(chunk.toString());
      if (output.length > 400) output.splice(0, output.length - 400);
      options.onOutput?.(chunk.toString());
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? RUN_TIMEOUT_MS);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, output: output.join('') });
    });
  });
}

/**
 * @typedef {{ root: string, workdir: string, env: Record<string, string>, user: string | null,
 *   cmd: string[] | null, healthcheck: { cmd: string[], flags: Record<string, string> } | null,
 *   expose: string[], baseImage: string, key: string }} StageResult
 */

/**
 * Replays the build of `dockerfilePath` (context = `contextRoot`) and returns the final stage.
 * Stages with identical inputs are built once per `cacheDir` (like Docker's layer cache), so
 * Dockerfiles sharing a prefix share that work.
 * @param {{ contextRoot: string, dockerfilePath: string, cacheDir?: string, buildArgs?: Record<string, string>,
 *   log?: (line: string) => void, contextFiles?: string[] }} options
 * @returns {Promise<StageResult & { stages: Record<string, StageResult> }>}
 */
export async function replayBuild(options) {
  const { contextRoot, dockerfilePath } = options;
  const log = options.log ?? (() => {});
  const cacheDir = options.cacheDir ?? join(tmpdir(), 'wallet-docker-replay');
  mkdirSync(cacheDir, { recursive: true });
  const contextFiles = options.contextFiles ?? listContextFiles(contextRoot);
  const contextSet = new Set(contextFiles);
  const dockerfile = readDockerfile(dockerfilePath);
  const globalArgs = { ...dockerfile.globalArgs };
  for (const [k, v] of Object.entries(options.buildArgs ?? {})) if (k in globalArgs) globalArgs[k] = v;
  /** @type {Record<string, StageResult>} */
  const results = {};

  /** Context files under a source path (file or folder), after .dockerignore. */
  const contextSources = (source, line) => {
    const clean = posix.normalize(source).replace(/^\.?\/+/, '').replace(/\/+$/, '');
    if (/[*?[]/.test(clean)) throw new Error(`line ${line}: COPY wildcards are not supported by the replay (${source})`);
    if (contextSet.has(clean)) return { kind: 'file', files: [clean], base: clean };
    const prefix = clean === '' || clean === '.' ? '' : `${clean}/`;
    const files = contextFiles.filter((f) => f.startsWith(prefix));
    if (files.length === 0) {
      throw new Error(`line ${line}: COPY ${source}: not in the build context (missing, or excluded by .dockerignore)`);
    }
    return { kind: 'dir', files, base: clean };
  };

  // Independent stages build concurrently, as BuildKit does (e.g. prod-deps next to build).
  const byName = new Map(dockerfile.stages.map((s) => [s.name, s]));
  const pending = {};
  const buildStage = (stage) => (pending[stage.name] ??= buildOne(stage));
  const buildOne = async (stage) => {
    const from = substitute(stage.from, globalArgs);
    const deps = [from, ...stage.instructions.filter((i) => i.keyword === 'COPY' && i.flags.from).map((i) => i.flags.from)];
    await Promise.all(deps.filter((d) => byName.has(d)).map((d) => buildStage(byName.get(d))));
    const parent = results[from];
    let key = createHash('sha256').update(parent ? `stage:${parent.key}` : `image:${from}`).digest('hex');
    const args = {};
    let env = parent ? { ...parent.env } : {};
    let workdir = parent ? parent.workdir : '/';
    // First pass: the stage's cache key from its instructions and inputs.
    const plan = [];
    for (const ins of stage.instructions) {
      const vars = { ...args, ...env };
      let detail = '';
      if (ins.keyword === 'ARG') {
        for (const [name, value] of Object.entries(parseAssignments(ins.args, 'ARG'))) {
          args[name] = options.buildArgs?.[name] ?? value ?? globalArgs[name] ?? '';
        }
        detail = JSON.stringify(args);
      } else if (ins.keyword === 'ENV') {
        const assigned = parseAssignments(substitute(ins.args, vars), 'ENV');
        env = { ...env, ...assigned };
        detail = JSON.stringify(assigned);
      } else if (ins.keyword === 'WORKDIR') {
        workdir = posix.resolve(workdir, substitute(ins.args, vars));
        detail = workdir;
      } else if (ins.keyword === 'COPY') {
        for (const flag of Object.keys(ins.flags)) {
          if (!ALLOWED_COPY_FLAGS.has(flag)) throw new Error(`line ${ins.line}: COPY --${flag} is not supported by the replay`);
        }
        const { sources, dest } = copyOperands(ins, vars);
        if (ins.flags.from) {
          const src = results[ins.flags.from];
          if (!src) throw new Error(`line ${ins.line}: COPY --from=${ins.flags.from}: only earlier stages can be replayed`);
          detail = `from:${src.key}:${JSON.stringify(sources)}:${dest}`;
        } else {
          const hashes = sources.map((s) => {
            const found = contextSources(s, ins.line);
            return `${s}=${hashFiles(contextRoot, found.files)}`;
          });
          detail = `${hashes.join(',')}:${dest}`;
        }
      } else if (ins.keyword === 'RUN') {
        for (const [flag, value] of Object.entries(ins.flags)) {
          // A cache mount only speeds the step up (npm's download cache); the replay uses the machine's.
          if (flag !== 'mount' || !/^type=cache(,|$)/.test(value)) {
            throw new Error(`line ${ins.line}: RUN --${flag}=${value} is not supported by the replay`);
          }
        }
        if (!ins.json && /(^|[\s=:;&|('"])\/(?!dev\/null\b)/.test(ins.args)) {
          throw new Error(`line ${ins.line}: RUN uses an absolute path; keep RUN lines relative to WORKDIR so they replay natively`);
        }
        detail = JSON.stringify({ vars, workdir });
      }
      key = createHash('sha256').update(key).update(ins.keyword).update(JSON.stringify(ins.flags)).update(ins.args).update(detail).digest('hex');
      plan.push({ ins, vars: { ...args, ...env }, workdir, env: { ...env } });
    }

    const stageDir = join(cacheDir, key);
    const root = join(stageDir, 'root');
    const metaFile = join(stageDir, 'meta.json');
    // Another replay (of another Dockerfile) may be building this very stage right now.
    if (inflight.has(key)) await inflight.get(key);
    if (existsSync(metaFile)) {
      log(`stage ${stage.name}: reusing identical stage ${key.slice(0, 12)}`);
      results[stage.name] = JSON.parse(readFileSync(metaFile, 'utf8'));
      return;
    }
    let release = () => {};
    inflight.set(key, new Promise((resolve) => (release = resolve)));
    try {
      const building = `${stageDir}.building-${process.pid}`;
      rmSync(building, { recursive: true, force: true });
      const buildRoot = join(building, 'root');
      mkdirSync(buildRoot, { recursive: true });
      if (parent) cpSync(parent.root, buildRoot, { recursive: true, verbatimSymlinks: true });
      /** @type {StageResult} */
      const result = {
        root,
        workdir: parent?.workdir ?? '/',
        env: parent ? { ...parent.env } : {},
        user: parent?.user ?? null,
        cmd: parent?.cmd ?? null,
        healthcheck: parent?.healthcheck ?? null,
        expose: parent ? [...parent.expose] : [],
        baseImage: parent?.baseImage ?? from,
        key,
      };
      const at = (containerPath) => join(buildRoot, containerPath);
      for (const step of plan) {
        const { ins } = step;
        result.workdir = step.workdir;
        result.env = step.env;
        if (ins.keyword === 'WORKDIR') {
          mkdirSync(at(step.workdir), { recursive: true });
        } else if (ins.keyword === 'COPY') {
          const { sources, dest } = copyOperands(ins, step.vars);
          const destPath = posix.resolve(step.workdir, dest);
          const destIsDir = dest.endsWith('/') || dest === '.' || sources.length > 1;
          for (const source of sources) {
            if (ins.flags.from) {
              const srcStage = results[ins.flags.from];
              const srcPath = join(srcStage.root, posix.resolve(srcStage.workdir, source));
              if (!existsSync(srcPath)) throw new Error(`line ${ins.line}: COPY --from=${ins.flags.from} ${source}: not found in that stage`);
              const isDir = statSync(srcPath).isDirectory();
              const target = isDir ? at(destPath) : destIsDir ? at(posix.join(destPath, posix.basename(source))) : at(destPath);
              mkdirSync(isDir ? target : dirname(target), { recursive: true });
              cpSync(srcPath, target, { recursive: true, verbatimSymlinks: true, force: true });
            } else {
              const found = contextSources(source, ins.line);
              for (const file of found.files) {
                const rel = found.kind === 'file' ? posix.basename(file) : file.slice(found.base ? found.base.length + 1 : 0);
                const target = found.kind === 'file' && !destIsDir && !existsDir(at(destPath)) ? at(destPath) : at(posix.join(destPath, rel));
                mkdirSync(dirname(target), { recursive: true });
                cpSync(join(contextRoot, file), target, { force: true });
              }
            }
          }
        } else if (ins.keyword === 'RUN') {
          const cwd = at(step.workdir);
          mkdirSync(cwd, { recursive: true });
          const runEnv = {
            ...hostEnvironment(),
            // The image's /usr/local (node, npm's global prefix) is <root>/usr/local here.
            PATH: `${at('/usr/local/bin')}${delimiter}${process.env.PATH ?? ''}`,
            npm_config_prefix: at('/usr/local'),
            ...step.vars,
          };
          const [command, ...commandArgs] = ins.json ?? ['sh', '-c', ins.args];
          log(`stage ${stage.name}: RUN ${ins.json ? JSON.stringify(ins.json) : ins.args}`);
          const started = Date.now();
          const outcome = await run(command, commandArgs, { cwd, env: runEnv, onOutput: options.onOutput });
          if (outcome.code !== 0) {
            throw new Error(
              `${dockerfilePath}:${ins.line}: RUN failed (exit ${outcome.code ?? outcome.signal}) after ${Date.now() - started} ms:\n${outcome.output.slice(-6000)}`,
            );
          }
          log(`stage ${stage.name}: RUN done in ${Date.now() - started} ms`);
        } else if (ins.keyword === 'USER') {
          result.user = substitute(ins.args, step.vars);
        } else if (ins.keyword === 'EXPOSE') {
          result.expose.push(...substitute(ins.args, step.vars).split(/\s+/));
        } else if (ins.keyword === 'CMD') {
          if (!ins.json) throw new Error(`line ${ins.line}: CMD must use the exec (JSON array) form`);
          result.cmd = ins.json;
        } else if (ins.keyword === 'HEALTHCHECK') {
          if (ins.args === 'NONE') result.healthcheck = null;
          else result.healthcheck = { cmd: ins.json ?? ['/bin/sh', '-c', ins.args], flags: ins.flags };
        }
      }
      result.workdir = plan.length ? plan[plan.length - 1].workdir : result.workdir;
      writeFileSync(join(building, 'meta.json'), JSON.stringify(result, null, 2));
      rmSync(stageDir, { recursive: true, force: true });
      renameSync(building, stageDir);
      results[stage.name] = result;
      log(`stage ${stage.name}: built (${key.slice(0, 12)})`);
    } finally {
      inflight.delete(key);
      release();
    }
  };
  const finalName = dockerfile.stages[dockerfile.stages.length - 1].name;
  await buildStage(byName.get(finalName));
  return { ...results[finalName], stages: results };
}

/** Stage key -> build in progress, shared by concurrent replays in this process. */
const inflight = new Map();

/**
 * The machine's environment minus what would make a step behave unlike a
 * clean image build (npm lifecycle variables, NODE_ENV/NODE_OPTIONS of the
 * test runner). Network and trust settings (proxy, extra CA certificates,
 * npm's global config with its cafile) stay: the replay uses this machine's
 * network, as `docker build` uses the daemon's.
 */
export function hostEnvironment() {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined) continue;
    if (/^(npm_|NODE_ENV$|NODE_OPTIONS$|VITEST|TEST_|INIT_CWD$|COLOR$|FORCE_COLOR$)/i.test(key)) continue;
    env[key] = value;
  }
  // npm reads its global config from <prefix>/etc/npmrc; the replay moves the prefix, so name the file.
  const globalConfig = process.env.npm_config_globalconfig ?? join(dirname(dirname(process.execPath)), 'etc', 'npmrc');
  if (existsSync(globalConfig)) env.npm_config_globalconfig = globalConfig;
  env.npm_config_update_notifier = 'false';
  return env;
}

function existsDir(path) {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** The Node.js version an image reference pins (node:20.20.2-bookworm-slim -> 20.20.2), if any. */
export function nodeVersionOfImage(image) {
  const m = /^(?:docker\.io\/)?(?:library\/)?node:(\d+(?:\.\d+){0,2})(?:-|$|@)/.exec(image);
  return m ? m[1] : null;
}
