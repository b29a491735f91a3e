// Loads docker-compose.yml the way `docker compose` does, without Docker:
// .env file, ${VAR} interpolation (with the Compose defaults/errors syntax),
// YAML anchors and `<<` merge keys.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

/**
 * Parses a Compose .env file (KEY=VALUE, comments, quotes, `export` prefix).
 * @returns {Record<string, string>}
 */
export function parseDotenv(text) {
  const out = {};
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i += 1) {
    const line = lines[i].trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$/.exec(line);
    if (!m) throw new Error(`.env line ${i + 1}: expected KEY=VALUE, got ${JSON.stringify(line)}`);
    let value = m[2];
    if (value.startsWith("'")) {
      const end = value.indexOf("'", 1);
      if (end === -1) throw new Error(`.env line ${i + 1}: unterminated quote`);
      value = value.slice(1, end);
    } else if (value.startsWith('"')) {
      const end = value.search(/(?<!\\)"(?=\s*(#.*)?$)/);
      if (end <= 0) throw new Error(`.env line ${i + 1}: unterminated quote`);
      value = value.slice(1, end).replace(/\\n/g, '\n').replace(/\\(["\\])/g, '$1');
      value = interpolate(value, { ...out }, `.env line ${i + 1}`);
    } else {
      value = value.replace(/\s+#.*$/, '').trim();
      value = interpolate(value, { ...out }, `.env line ${i + 1}`);
    }
    out[m[1]] = value;
  }
  return out;
}

/**
 * Compose interpolation: $$ (literal $), $VAR, ${VAR}, ${VAR:-default},
 * ${VAR-default}, ${VAR:?error}, ${VAR?error}, ${VAR:+alt}, ${VAR+alt};
 * defaults may nest ${...}.
 */
export function interpolate(text, env, where = 'compose file') {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (ch !== '$') {
      out += ch;
      i += 1;
      continue;
    }
    const next = text[i + 1];
    if (next === '$') {
      out += '$';
      i += 2;
      continue;
    }
    if (next === '{') {
      // find the matching brace (defaults may contain ${...})
      let depth = 0;
      let j = i + 1;
      for (; j < text.length; j += 1) {
        if (text[j] === '{') depth += 1;
        else if (text[j] === '}') {
          depth -= 1;
          if (depth === 0) break;
        }
      }
      if (j >= text.length) throw new Error(`${where}: unterminated \${ in ${JSON.stringify(text)}`);
      const body = text.slice(i + 2, j);
      const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([\s\S]*))?$/.exec(body);
      if (!m) throw new Error(`${where}: invalid interpolation \${${body}}`);
      const [, name, op, word = ''] = m;
      const value = env[name];
      const set = value !== undefined;
      const nonEmpty = set && value !== '';
      if (!op) out += value ?? '';
      else if (op === ':-') out += nonEmpty ? value : interpolate(word, env, where);
      else if (op === '-') out += set ? value : interpolate(word, env, where);
      else if (op === ':?' || op === '?') {
        if (op === ':?' ? !nonEmpty : !set) {
          throw new Error(`${where}: required variable ${name} is missing a value: ${interpolate(word, env, where)}`);
        }
        out += value;
      } else if (op === ':+') out += nonEmpty ? interpolate(word, env, where) : '';
      else if (op === '+') out += set ? interpolate(word, env, where) : '';
      i = j + 1;
      continue;
    }
    const bare = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i + 1));
    if (bare) {
      out += env[bare[0]] ?? '';
      i += 1 + bare[0].length;
      continue;
    }
    out += '$';
    i += 1;
  }
  return out;
}

function interpolateTree(node, env, path) {
  if (typeof node === 'string') return interpolate(node, env, path);
  if (Array.isArray(node)) return node.map((v, i) => interpolateTree(v, env, `${path}[${i}]`));
  if (node && typeof node === 'object') {
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, interpolateTree(v, env, `${path}.${k}`)]));
  }
  return node;
}

/**
 * @param {string} root folder holding docker-compose.yml and .env
 * @param {{ env?: Record<string, string>, file?: string }} [options] env overrides .env, as the shell environment does for Compose
 */
export function loadCompose(root, options = {}) {
  const file = join(root, options.file ?? 'docker-compose.yml');
  const dotenvPath = join(root, '.env');
  const dotenv = existsSync(dotenvPath) ? parseDotenv(readFileSync(dotenvPath, 'utf8')) : {};
  const env = { ...dotenv, ...(options.env ?? {}) };
  const text = readFileSync(file, 'utf8');
  const raw = parse(text, { merge: true, maxAliasCount: 1000 });
  const model = interpolateTree(raw, env, 'docker-compose.yml');
  return { raw, model, env, dotenv, file };
}

/** A service's `environment` as a map, whichever of the two Compose forms it uses. */
export function serviceEnvironment(service) {
  const env = service.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(
      env.map((entry) => {
        const eq = String(entry).indexOf('=');
        return eq === -1 ? [entry, ''] : [entry.slice(0, eq), entry.slice(eq + 1)];
      }),
    );
  }
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === null || v === undefined ? '' : String(v)]));
}

/** Services, as [name, definition] pairs, with the profiles each one belongs to. */
export function services(model) {
  return Object.entries(model.services ?? {});
}

/**
 * The images compose builds from this repository (profiles' extra replicas
 * left out: they reuse a build), each with its Dockerfile and build arguments
 * as `docker compose build` would pass them.
 * @returns {Array<{ name: string, dockerfilePath: string, buildArgs: Record<string, string> }>}
 */
export function composeBuilds(model, root) {
  return Object.entries(model.services ?? {})
    .filter(([, s]) => s.build && !s.profiles?.length)
    .map(([name, s]) => ({
      name,
      dockerfilePath: join(root, s.build.context ?? '.', s.build.dockerfile ?? 'Dockerfile'),
      buildArgs: Object.fromEntries(Object.entries(s.build.args ?? {}).map(([k, v]) => [k, String(v)])),
    }));
}

/** Where Compose mounts a service's secret: /run/secrets/<target>, <target> defaulting to the secret's name. */
export const SECRETS_MOUNT_DIR = '/run/secrets';

/**
 * A service's secrets as Compose mounts them: the secret's name, the path in
 * the container and the file it comes from (as written under the top-level
 * `secrets:`, e.g. ./deploy/secrets/tls/ca.pem).
 * @returns {Array<{ source: string, target: string, file: string | undefined }>}
 */
export function secretMounts(model, service) {
  return (service.secrets ?? []).map((entry) => {
    const source = typeof entry === 'string' ? entry : entry.source;
    const target = typeof entry === 'string' ? undefined : entry.target;
    const path = !target ? `${SECRETS_MOUNT_DIR}/${source}` : target.startsWith('/') ? target : `${SECRETS_MOUNT_DIR}/${target}`;
    return { source, target: path, file: model.secrets?.[source]?.file };
  });
}

/**
 * The environment with every mounted secret's container path replaced by the
 * file it comes from, the secrets folder (`./deploy/secrets`) read from
 * `secretsDir` instead: what a process outside a container needs to read them.
 */
export function mapSecretPaths(env, mounts, { root, secretsDir, secretsFolder = './deploy/secrets' }) {
  const byTarget = new Map(mounts.map((m) => [m.target, m.file]));
  return Object.fromEntries(
    Object.entries(env).map(([key, value]) => {
      const file = byTarget.get(value);
      if (file === undefined) return [key, value];
      const local = file.startsWith(`${secretsFolder}/`) ? join(secretsDir, file.slice(secretsFolder.length + 1)) : join(root, file);
      return [key, local];
    }),
  );
}
