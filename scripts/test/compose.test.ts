// Deployment checks that need no Docker engine: the compose file through the
// real `docker compose config` (built from its Go module) and against the
// Compose Specification schema, compose vs. each service's config schema,
// health checks / ports / networks / volumes / pinned images, the one
// Dockerfile's shape, the .dockerignore, and the Kafka topic job.
import { spawnSync } from 'node:child_process';
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveSecrets } from '@wallet/platform';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMPOSE_VERSION, composeCliUnavailableReason, composeConfig, ensureComposeCli } from '../check-deploy/compose-cli.mjs';
import {
  loadCompose,
  mapSecretPaths,
  secretMounts,
  serviceEnvironment,
  type ComposeModel,
  type ComposeService,
} from '../check-deploy/compose-model.mjs';
import { loadServiceConfig, validateEnvironment, type ServiceConfig } from '../check-deploy/config-schemas.mjs';
import { readDockerfile, substitute } from '../check-deploy/dockerfile.mjs';
import { isExcluded, listContextFiles, parseDockerignore } from '../check-deploy/dockerignore.mjs';
import { dependencyNames } from '../check-deploy/native-stack.mjs';
import { generateSecrets } from '../secrets.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
// ajv 8 (draft 2020-12) is a dependency of the test kit; the root's ajv is eslint's v6.
const requireFromTestkit = createRequire(join(root, 'packages', 'testkit', 'package.json'));

const { model, raw, dotenv } = loadCompose(root);
const composeServices = Object.entries(model.services);
const rootPackage = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { workspaces: string[] };
/** Services of this repository that ship an image: every workspace under services/. */
const imageServices = rootPackage.workspaces.filter((w) => w.startsWith('services/')).map((w) => w.slice('services/'.length));
/** The one Dockerfile every image is built from (ARG SERVICE). */
const DOCKERFILE = 'Dockerfile';
/** Compose services built from this repository (the replica profile reuses bank-service's build). */
const builtServices = composeServices.filter(([, s]) => s.build);
/** One-shot jobs: never restarted, and waited on with service_completed_successfully. */
const oneShotJobs = new Set(
  composeServices
    .filter(([name, s]) => s.restart === 'no' && composeServices.some(([, other]) => dependsOn(other)[name] === 'service_completed_successfully'))
    .map(([name]) => name),
);

function dependsOn(service: ComposeService): Record<string, string> {
  const deps = service.depends_on ?? {};
  if (Array.isArray(deps)) return Object.fromEntries(deps.map((d) => [d, 'service_started']));
  return Object.fromEntries(Object.entries(deps).map(([name, d]) => [name, d.condition ?? 'service_started']));
}

function serviceOfBuild(service: ComposeService): string {
  const dockerfile = service.build?.dockerfile ?? '';
  if (dockerfile !== DOCKERFILE) throw new Error(`unexpected dockerfile ${dockerfile}`);
  const name = service.build?.args?.SERVICE;
  if (!name) throw new Error('build without a SERVICE argument');
  return name;
}

// Read by Node.js itself or by @wallet/contracts, not by a config schema.
const RUNTIME_VARIABLES = new Set(['NODE_ENV', 'NODE_OPTIONS', 'WALLET_CONTRACTS_DIR', 'TZ']);
// OpenTelemetry's standard variables, read and validated by @wallet/platform/tracing (startTracing).
const TRACING_VARIABLE = /^OTEL_[A-Z_]+$/;

// What `npm run secrets:generate` makes, in a folder of this test run: the
// compose file's secret paths are read from here (as the containers would
// read their /run/secrets mounts), so the generated values meet the schemas.
const secretsDir = join(mkdtempSync(join(tmpdir(), 'compose-secrets-')), 'secrets');
const generated = await generateSecrets({ dir: secretsDir, env: {} });
afterAll(() => rmSync(join(secretsDir, '..'), { recursive: true, force: true }));

/** The service's environment with its secrets resolved as the service does it (X_FILE read from the mounted file). */
function resolvedEnvironment(config: ServiceConfig, service: ComposeService, env = serviceEnvironment(service)) {
  const local = mapSecretPaths(env, secretMounts(model, service), { root, secretsDir });
  return resolveSecrets(config.secretsFor(env), local);
}

/**
 * What is wrong with a compose environment for a service: variables its schema
 * does not read, secrets refused by the production rules (inline, missing,
 * unreadable, a development default), and invalid values.
 */
function environmentProblems(config: ServiceConfig, service: ComposeService, env: Record<string, string>): string[] {
  const unknown = Object.keys(env)
    .filter((key) => !config.keys.includes(key) && !RUNTIME_VARIABLES.has(key) && !TRACING_VARIABLE.test(key))
    .map((key) => `${key}: no config schema reads this variable`);
  const resolved = resolvedEnvironment(config, service, env);
  return [...unknown, ...resolved.problems, ...validateEnvironment(config, resolved.env as Record<string, string>)];
}

/** The one service that publishes the REST API: HAProxy in front of the gateway replicas. */
const LOAD_BALANCER = 'load-balancer';

/** Services whose image has nothing inside to probe with, with why; nobody may depend on them. */
const NO_HEALTH_CHECK: Record<string, string> = {
  'otel-collector': 'the image is the collector binary alone (no shell, no HTTP client); Prometheus scrapes its metrics and ServiceDown covers it',
};

function networksOf(service: ComposeService): string[] {
  const n = service.networks ?? [];
  return Array.isArray(n) ? n : Object.keys(n);
}

function isPinned(image: string): boolean {
  if (/@sha256:[0-9a-f]{64}$/.test(image)) return true;
  const tag = /:([^/:]+)$/.exec(image)?.[1];
  return !!tag && tag !== 'latest' && /\d/.test(tag);
}

describe('docker-compose.yml against the Compose Specification', () => {
  // The real CLI when it can be built here (a Go toolchain); otherwise the
  // skip names why, and the schema check below still runs.
  const cliUnavailable = composeCliUnavailableReason();
  if (cliUnavailable) console.warn(`[compose.test] docker compose config check skipped: ${cliUnavailable}`);

  it.skipIf(cliUnavailable !== null)(`is accepted by docker compose ${COMPOSE_VERSION} (config), which resolves it as our loader does`, () => {
    const binary = ensureComposeCli({ log: (line) => console.log(`[compose.test] ${line}`) });
    const resolved = composeConfig(binary);
    expect(Object.keys(resolved.services).sort()).toEqual(Object.keys(model.services).sort());
    for (const [name, service] of composeServices) {
      const real = resolved.services[name]!;
      expect(real.image, `${name}: image`).toBe(service.image);
      const realEnv = Object.fromEntries(Object.entries(real.environment ?? {}).map(([k, v]) => [k, v ?? '']));
      expect(realEnv, `${name}: environment as docker compose resolves it`).toEqual(serviceEnvironment(service));
      if (service.build) expect(real.build?.args, `${name}: build args`).toEqual(service.build.args);
    }
    // The CLI rejects what the schema rejects: a misspelt key fails with Compose's own message.
    const dir = mkdtempSync(join(tmpdir(), 'compose-cli-'));
    try {
      writeFileSync(join(dir, 'docker-compose.yml'), 'services:\n  one:\n    image: busybox:1.37\n    healtcheck:\n      test: ["CMD", "true"]\n');
      expect(() => composeConfig(binary, { projectDir: dir })).toThrow(/healtcheck/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 1_800_000);

  it('validates against the vendored Compose Specification JSON Schema', () => {
    const Ajv2020 = requireFromTestkit('ajv/dist/2020').default;
    const ajv = new Ajv2020({ allErrors: true, strict: false });
    const validate = ajv.compile(JSON.parse(readFileSync(join(root, 'deploy', 'compose-spec.schema.json'), 'utf8')));
    const ok = validate(model);
    expect(validate.errors ?? [], JSON.stringify(validate.errors, null, 2)).toEqual([]);
    expect(ok).toBe(true);
    // The schema is strict enough to catch a typo (proves the check can fail).
    const broken = structuredClone(model) as ComposeModel;
    (broken.services['bank-service'] as Record<string, unknown>).healtcheck = { test: ['CMD', 'true'] };
    expect(validate(broken)).toBe(false);
  });

  it('references only defined services, networks and volumes', () => {
    for (const [name, service] of composeServices) {
      for (const dep of dependencyNames(service)) expect(model.services, `${name} depends on ${dep}`).toHaveProperty(dep);
      for (const network of networksOf(service)) expect(model.networks ?? {}, `${name} network ${network}`).toHaveProperty(network);
      for (const volume of service.volumes ?? []) {
        const source = typeof volume === 'string' ? volume.split(':')[0]! : (volume.source ?? '');
        if (source.startsWith('.') || source.startsWith('/')) {
          expect(existsSync(join(root, source)), `${name}: bind source ${source} exists`).toBe(true);
        } else {
          expect(model.volumes ?? {}, `${name}: named volume ${source}`).toHaveProperty(source);
        }
      }
    }
  });

  it('takes every image version from .env and pins it', () => {
    for (const [name, service] of Object.entries(raw.services)) {
      if (service.build) {
        expect(service.image, `${name}: built image is named`).toMatch(/^e-wallet\/[a-z-]+:\$\{WALLET_IMAGE_TAG/);
        continue;
      }
      expect(service.image, `${name}: image comes from .env`).toMatch(/^\$\{[A-Z_]+_IMAGE(:\?[^}]*)?\}$/);
    }
    for (const [name, service] of composeServices) {
      expect(isPinned(service.image ?? ''), `${name}: ${service.image} is pinned`).toBe(true);
    }
    for (const [key, value] of Object.entries(dotenv).filter(([k]) => k.endsWith('_IMAGE'))) {
      expect(isPinned(value), `.env ${key}=${value} is pinned`).toBe(true);
    }
  });

  it('gives every long-running service a health check and gates start-up on it', () => {
    for (const [name, service] of composeServices) {
      if (oneShotJobs.has(name)) continue;
      if (name in NO_HEALTH_CHECK) {
        expect(service.healthcheck, `${name}: ${NO_HEALTH_CHECK[name]}`).toBeUndefined();
        expect(composeServices.filter(([, other]) => name in dependsOn(other)).map(([n]) => n), `nobody waits on ${name}`).toEqual([]);
        continue;
      }
      const composeCheck = service.healthcheck && !service.healthcheck.disable && service.healthcheck.test;
      const imageCheck = service.build
        ? readDockerfile(join(root, service.build.dockerfile!)).stages.at(-1)!.instructions.some((i) => i.keyword === 'HEALTHCHECK')
        : false;
      expect(composeCheck || imageCheck, `${name} has a health check (compose or Dockerfile)`).toBeTruthy();
    }
    for (const [name, service] of composeServices) {
      for (const [dep, condition] of Object.entries(dependsOn(service))) {
        const expected = oneShotJobs.has(dep) ? 'service_completed_successfully' : 'service_healthy';
        expect(condition, `${name} -> ${dep}`).toBe(expected);
      }
    }
    expect(oneShotJobs).toEqual(new Set(['kafka-init']));
  });

  it('publishes only the load balancer port (profiled tools on loopback only)', () => {
    for (const [name, service] of composeServices) {
      const ports = service.ports ?? [];
      if (name === LOAD_BALANCER) {
        expect(ports).toHaveLength(1);
        continue;
      }
      if (!service.profiles?.length) {
        expect(ports, `${name} publishes no port`).toEqual([]);
      } else {
        for (const port of ports) expect(String(typeof port === 'string' ? port : port.host_ip), `${name}: loopback only`).toMatch(/^127\.0\.0\.1:/);
      }
    }
  });

  it('keeps everything but the load balancer on internal networks only', () => {
    const internal = new Set(Object.entries(model.networks ?? {}).filter(([, n]) => n?.internal).map(([n]) => n));
    expect(internal.size).toBeGreaterThan(0);
    for (const [name, service] of composeServices) {
      const networks = networksOf(service);
      expect(networks.length, `${name} names its networks`).toBeGreaterThan(0);
      if (name === LOAD_BALANCER || service.profiles?.includes('observability')) {
        expect(networks.some((n) => internal.has(n))).toBe(true);
        continue;
      }
      // Webhook receivers are on the internet: the webhook-service alone gets a way out (edge), and
      // refuses private addresses itself (SSRF); it publishes nothing.
      if (name === 'webhook-service') {
        expect(networks.sort()).toEqual(['backend', 'edge']);
        expect(service.ports ?? []).toEqual([]);
        continue;
      }
      for (const network of networks) expect(internal.has(network), `${name} on internal network ${network}`).toBe(true);
    }
  });

  it('keeps all data in named volumes', () => {
    const dataPaths: Record<string, string> = {
      postgres: '/var/lib/postgresql/data',
      kafka: '/var/lib/kafka/data',
      clickhouse: '/var/lib/clickhouse',
      prometheus: '/prometheus',
    };
    for (const [name, path] of Object.entries(dataPaths)) {
      const volumes = (model.services[name]?.volumes ?? []).map((v) => (typeof v === 'string' ? v : `${v.source}:${v.target}`));
      const mount = volumes.find((v) => v.split(':')[1] === path);
      expect(mount, `${name} mounts ${path}`).toBeDefined();
      expect(model.volumes ?? {}, `${name}: ${mount} is a named volume`).toHaveProperty(mount!.split(':')[0]!);
    }
    // Bind mounts are configuration only, read-only.
    for (const [name, service] of composeServices) {
      for (const v of service.volumes ?? []) {
        const text = typeof v === 'string' ? v : `${v.source}:${v.target}${v.read_only ? ':ro' : ''}`;
        if (text.startsWith('.')) expect(text, `${name}: bind mount is read-only config`).toMatch(/^\.\/deploy\/.*:ro$/);
      }
    }
  });

  it('merges the shared defaults (restart, log limits, resource limits) into every service', () => {
    for (const [name, service] of composeServices) {
      expect(service.restart, name).toMatch(/^(unless-stopped|no)$/);
      expect(service.logging?.options?.['max-size'], `${name} log size limit`).toBeTruthy();
      expect(service.logging?.options?.['max-file'], `${name} log file limit`).toBeTruthy();
      expect(service.deploy?.resources?.limits?.memory, `${name} memory limit`).toBeTruthy();
      expect(service.deploy?.resources?.limits?.cpus, `${name} cpu limit`).toBeTruthy();
    }
    expect(Object.keys(raw)).toContain('x-defaults');
  });

  it('offers the observability profile (replicas are the default shape, not a profile)', () => {
    const profiles = new Set(composeServices.flatMap(([, s]) => s.profiles ?? []));
    expect(profiles).toEqual(new Set(['observability']));
  });

  it('builds every service image from the repository root with the one Dockerfile and its SERVICE', () => {
    const built = new Set(builtServices.map(([, s]) => serviceOfBuild(s)));
    expect([...built].sort()).toEqual([...imageServices].sort());
    for (const [name, service] of builtServices) {
      expect(service.build?.context, name).toBe('.');
      expect(service.build?.dockerfile, name).toBe(DOCKERFILE);
      expect(service.build?.args, `${name}: base image and npm version come from .env`).toMatchObject({
        NODE_IMAGE: dotenv.NODE_IMAGE,
        NPM_VERSION: dotenv.NPM_VERSION,
      });
      expect(Object.keys(service.build?.args ?? {}).sort(), name).toEqual(['NODE_IMAGE', 'NPM_VERSION', 'READY_PORT', 'READY_PORT_VARIABLE', 'SERVICE']);
      expect(existsSync(join(root, 'services', serviceOfBuild(service), 'package.json')), `${name}: SERVICE is a workspace`).toBe(true);
    }
    // No per-service copies left behind.
    expect(readdirSync(join(root, 'services')).filter((d) => existsSync(join(root, 'services', d, 'Dockerfile')))).toEqual([]);
  });
});

describe('compose environment vs. the services configuration schemas', () => {
  const configs: Record<string, ServiceConfig> = {};
  beforeAll(async () => {
    for (const name of imageServices) configs[name] = await loadServiceConfig(join(root, 'services', name));
  });

  it('finds a config schema in every service build', () => {
    for (const name of imageServices) {
      expect(configs[name]!.keys.length, `${name}: ${configs[name]!.exports.join(', ')}`).toBeGreaterThan(0);
    }
  });

  it.each(builtServices.map(([name, s]) => [name, s] as const))('%s: passes only variables its schema knows, all valid', (name, service) => {
    const config = configs[serviceOfBuild(service)]!;
    expect(service.env_file, `${name}: no env_file (the check needs every variable in view)`).toBeUndefined();
    const rawEnv = raw.services[name]!.environment;
    if (rawEnv && !Array.isArray(rawEnv)) {
      for (const [key, value] of Object.entries(rawEnv)) expect(value, `${name}: ${key} has a value`).not.toBeNull();
    }
    // As the image runs it (Dockerfile: NODE_ENV=production), so production-only rules apply.
    expect(environmentProblems(config, service, { NODE_ENV: 'production', ...serviceEnvironment(service) }), `${name}: the compose environment is a valid config`).toEqual([]);
  });

  it('catches a variable no schema reads (a misspelt or old name), an invalid value and an inline or missing secret', () => {
    const [name, service] = builtServices.find(([n]) => n === 'bank-service')!;
    const config = configs[serviceOfBuild(service)]!;
    const env: Record<string, string> = { ...serviceEnvironment(service), NODE_ENV: 'production' };
    expect(environmentProblems(config, service, { ...env, BANK_GRPC_PORTT: '50051' }), name).toEqual(['BANK_GRPC_PORTT: no config schema reads this variable']);
    expect(environmentProblems(config, service, { ...env, BANK_GRPC_PORT: 'fifty' }).join('\n'), name).toMatch(/^BANK_GRPC_PORT: /);
    const { DATABASE_URL_FILE: _file, ...withoutFile } = env;
    expect(environmentProblems(config, service, { ...withoutFile, DATABASE_URL: 'postgresql://bank:pw@postgres:5432/bank' }).join('\n'), name).toMatch(/^DATABASE_URL: a secret given inline/);
    expect(environmentProblems(config, service, withoutFile).join('\n'), name).toMatch(/^DATABASE_URL: missing/);
    expect(environmentProblems(config, service, { ...env, DATABASE_URL_FILE: '/run/secrets/not-mounted' }).join('\n'), name).toMatch(/^DATABASE_URL_FILE: cannot read/);
  });

  it.each(builtServices.map(([name, s]) => [name, s] as const))('%s: the image health check reads the port that serves /readyz', (name, service) => {
    const config = configs[serviceOfBuild(service)]!;
    const variable = service.build!.args!.READY_PORT_VARIABLE!;
    expect(config.keys, `${name}: READY_PORT_VARIABLE=${variable} is a variable of its config`).toContain(variable);
    expect(String(config.defaults[variable]), `${name}: READY_PORT is ${variable}'s default`).toBe(service.build!.args!.READY_PORT);
    expect(serviceEnvironment(service)[variable], `${name}: compose sets ${variable}`).toBeTruthy();
  });

  /** URLs a user's browser follows (the PKCE redirect URIs): the published address, by design. */
  const BROWSER_FACING = new Set(['IDENTITY_WEB_REDIRECT_URIS']);
  const PUBLISHED_PORT = '8080';

  it.each(builtServices.map(([name, s]) => [name, s] as const))('%s: sets every required variable and every loopback default', (name, service) => {
    const config = configs[serviceOfBuild(service)]!;
    const env = serviceEnvironment(service);
    // A secret X is given as X_FILE (the next describe checks how).
    for (const key of config.required) expect(env[key] ?? env[`${key}_FILE`], `${name}: required ${key} (or ${key}_FILE)`).toBeTruthy();
    // A default that points at this machine (127.0.0.1, localhost) is wrong inside a container.
    const resolved = resolvedEnvironment(config, service).env;
    const defaults = { ...config.defaults, ...Object.fromEntries(Object.entries(config.secrets).map(([key, spec]) => [key, spec.devDefault])) };
    for (const [key, value] of Object.entries(defaults)) {
      if (typeof value === 'string' && /(127\.0\.0\.1|localhost|\[::1\])/.test(value)) {
        expect(env[key] ?? env[`${key}_FILE`], `${name}: ${key} defaults to ${value}; compose must set it`).toBeTruthy();
        if (BROWSER_FACING.has(key)) {
          // Where a browser is sent: the load balancer's published address, not a container.
          for (const uri of String(resolved[key]).split(',')) expect(new URL(uri).port, `${name}: ${key} ${uri}`).toBe(PUBLISHED_PORT);
        } else {
          expect(resolved[key]).not.toMatch(/127\.0\.0\.1|localhost/);
        }
      }
    }
  });

  it('wires the services to each other on the ports they listen on', () => {
    const listening = new Map<string, string[]>();
    for (const [name, service] of composeServices) {
      const env = serviceEnvironment(service);
      listening.set(name, Object.entries(env).filter(([k]) => /_PORT$/.test(k)).map(([, v]) => v));
    }
    listening.set('postgres', ['5432']);
    listening.set('kafka', ['9092']);
    listening.set('clickhouse', ['8123']);
    listening.set('valkey', ['6379']);
    for (const [name, service] of builtServices) {
      // Secrets resolved: the generated connection URLs name the compose services too.
      const resolved = resolvedEnvironment(configs[serviceOfBuild(service)]!, service).env as Record<string, string>;
      for (const [key, value] of Object.entries(resolved).filter(([k]) => !BROWSER_FACING.has(k) && (k in serviceEnvironment(service) || `${k}_FILE` in serviceEnvironment(service)))) {
        // A URL by its host (user:password@ would look like host:port), anything else as host:port lists.
        const url = /^[a-z][a-z0-9+.-]*:\/\//.test(value) ? new URL(value) : undefined;
        const endpoints = url ? [[url.host, url.hostname, url.port]] : [...value.matchAll(/(?:^|[/@,])([a-z][a-z0-9-]*):(\d+)/g)];
        for (const [, host, port] of endpoints.filter(([, , p]) => p)) {
          expect(listening.has(host!), `${name}: ${key} -> ${host} is a compose service`).toBe(true);
          expect(listening.get(host!), `${name}: ${key} -> ${host}:${port}`).toContain(port);
        }
      }
    }
  });
});

describe('identity and access in the compose stack', () => {
  const env = (name: string) => serviceEnvironment(model.services[name]!);
  const verifiers = ['api-gateway', 'bank-service', 'bank-card-adapter'];

  it('issues and verifies tokens with one issuer and one audience (iss must match exactly), over HTTPS', () => {
    const issuer = env('identity-service').IDENTITY_ISSUER;
    expect(issuer).toMatch(/^https:\/\/identity-service:8090$/);
    for (const name of verifiers) {
      expect(env(name).AUTH_ISSUER, `${name}: AUTH_ISSUER`).toBe(issuer);
      expect(env(name).AUTH_AUDIENCE, `${name}: AUTH_AUDIENCE`).toBe(env('identity-service').IDENTITY_AUDIENCE);
    }
    expect(env('api-gateway').GATEWAY_IDENTITY_URL).toBe(issuer);
    for (const name of verifiers) expect(dependsOn(model.services[name]!)['identity-service'], `${name} waits for the issuer`).toBe('service_healthy');
  });

  it('no longer passes the shared card adapter credential (mutual TLS names the caller)', () => {
    const text = readFileSync(join(root, 'docker-compose.yml'), 'utf8') + readFileSync(join(root, '.env'), 'utf8');
    expect(text).not.toMatch(/BANK_CARD_ADAPTER_CREDENTIAL|CARD_ADAPTER_BANK_CREDENTIAL/);
  });

  it('never seeds the demo users unless explicitly enabled', () => {
    expect(env('identity-service').IDENTITY_SEED_DEV_USERS).toBe('false');
    expect(serviceEnvironment(loadCompose(root, { env: { IDENTITY_SEED_DEV_USERS: '' } }).model.services['identity-service']!).IDENTITY_SEED_DEV_USERS).toBe('false');
    const enabled = loadCompose(root, { env: { IDENTITY_SEED_DEV_USERS: 'true' } }).model.services['identity-service']!;
    expect(serviceEnvironment(enabled).IDENTITY_SEED_DEV_USERS).toBe('true');
  });

  it('gives the gateway a shared rate-limit store, a CORS allow-list and an ops port off the public one', () => {
    const gateway = env('api-gateway');
    const redisUrl = readFileSync(mountedFile('api-gateway', gateway.REDIS_URL_FILE!), 'utf8').trim();
    expect(redisUrl).toMatch(/^redis:\/\/default:[^@]+@valkey:6379$/);
    expect(dependsOn(model.services['api-gateway']!).valkey).toBe('service_healthy');
    expect(gateway.CORS_ORIGINS).toBeTruthy();
    expect(gateway.CORS_ORIGINS).not.toContain('*');
    expect(gateway.GATEWAY_OPS_PORT).not.toBe(gateway.GATEWAY_HTTP_PORT);
    // Valkey knows only the SHA-256 of the password in the gateway's URL (ACL file), and its health check the password.
    const valkey = model.services.valkey!;
    const command = valkey.command as string[];
    const acl = readFileSync(mountedFile('valkey', command[command.indexOf('--aclfile') + 1]!), 'utf8');
    const password = decodeURIComponent(new URL(redisUrl).password);
    expect(acl.trim()).toBe(`user default on #${createHash('sha256').update(password).digest('hex')} ~* &* +@all`);
    expect(acl).not.toContain(password);
    expect(command).not.toContain('--requirepass');
    expect(readFileSync(mountedFile('valkey', '/run/secrets/valkey-password'), 'utf8').trim()).toBe(password);
    expect(String(valkey.healthcheck?.test)).toContain('/run/secrets/valkey-password');
  });
});

/** The generated file behind a path a service sees (/run/secrets/...), failing when the service does not mount it. */
function mountedFile(serviceName: string, containerPath: string): string {
  const service = model.services[serviceName]!;
  const mapped = mapSecretPaths({ path: containerPath }, secretMounts(model, service), { root, secretsDir }).path!;
  if (mapped === containerPath) throw new Error(`${serviceName} mounts no secret at ${containerPath}`);
  return mapped;
}

/** Names that say "secret"; such a variable may only be given as a file (X_FILE). */
const SECRET_NAME = /(^|_)(PASSWORD|SECRET|KEY|CREDENTIAL|TOKEN)(_|$)/;
/** user:password@ in a URL: a password inline in a connection string. */
const URL_WITH_PASSWORD = /[a-z][a-z0-9+.-]*:\/\/[^/@\s:]*:[^/@\s]+@/i;

/**
 * Secrets that compose leaves unset on purpose in every service that reads
 * them, with why. Each one must be read by some service and set nowhere.
 */
const DELIBERATELY_UNSET: Record<string, string> = {
  KAFKA_SASL_PASSWORD: 'the compose Kafka has one PLAINTEXT listener on the internal network, no SASL',
  IDENTITY_DEV_CLIENT_SECRET: 'the development back-office client is seeded only with IDENTITY_SEED_DEV_USERS, off in this stack',
};

describe('secrets in the compose stack (files, never inline)', () => {
  const configs: Record<string, ServiceConfig> = {};
  beforeAll(async () => {
    for (const name of imageServices) configs[name] = await loadServiceConfig(join(root, 'services', name));
  });

  it('gives every secret a service reads as a mounted file (X_FILE), or leaves it unset on purpose', () => {
    const read = new Set<string>();
    for (const [name, service] of builtServices) {
      const config = configs[serviceOfBuild(service)]!;
      const env = serviceEnvironment(service);
      for (const secret of Object.keys(config.secrets)) {
        read.add(secret);
        expect(env[secret], `${name}: ${secret} given inline`).toBeUndefined();
        if (secret in DELIBERATELY_UNSET) {
          expect(env[`${secret}_FILE`], `${name}: ${secret} is listed as deliberately unset`).toBeUndefined();
          continue;
        }
        expect(env[`${secret}_FILE`], `${name}: ${secret}_FILE (or list it in DELIBERATELY_UNSET with the reason)`).toMatch(/^\/run\/secrets\//);
        expect(existsSync(mountedFile(name, env[`${secret}_FILE`]!)), `${name}: ${secret}_FILE is a generated file`).toBe(true);
      }
    }
    for (const secret of Object.keys(DELIBERATELY_UNSET)) expect([...read], `DELIBERATELY_UNSET ${secret} is a secret some service reads`).toContain(secret);
  });

  it('passes no secret inline to any service (names or URLs with a password), and .env holds none', () => {
    for (const [name, service] of composeServices) {
      for (const [key, value] of Object.entries(serviceEnvironment(service))) {
        if (SECRET_NAME.test(key)) expect(key, `${name}: ${key} looks like a secret; give it as a file (${key}_FILE)`).toMatch(/_FILE$/);
        expect(value, `${name}: ${key} holds a URL with a password`).not.toMatch(URL_WITH_PASSWORD);
      }
      expect(JSON.stringify(service.command ?? ''), `${name}: a password on the command line`).not.toMatch(/requirepass|password=/i);
    }
    for (const [key, value] of Object.entries(dotenv)) {
      expect(key, `.env ${key}`).not.toMatch(SECRET_NAME);
      expect(value, `.env ${key}`).not.toMatch(URL_WITH_PASSWORD);
    }
    // The check itself: an inline password and a URL with one are caught.
    expect('POSTGRES_PASSWORD').toMatch(SECRET_NAME);
    expect('CARD_ADAPTER_PAYMENT_GATEWAY_API_KEY').toMatch(SECRET_NAME);
    expect('VALKEY_IMAGE').not.toMatch(SECRET_NAME);
    expect('redis://:hunter2@valkey:6379').toMatch(URL_WITH_PASSWORD);
    expect('https://identity-service:8090').not.toMatch(URL_WITH_PASSWORD);
  });

  it('mounts every /run/secrets path a service names, from files that secrets:generate writes under deploy/secrets/', () => {
    const defined = model.secrets ?? {};
    for (const [name, secret] of Object.entries(defined)) {
      expect(secret.file, `secret ${name}: from a file`).toMatch(/^\.\/deploy\/secrets\//);
      const local = join(secretsDir, secret.file!.slice('./deploy/secrets/'.length));
      expect(existsSync(local), `secret ${name}: ${secret.file} is generated`).toBe(true);
    }
    const used = new Set<string>();
    for (const [name, service] of composeServices) {
      const mounts = secretMounts(model, service);
      for (const mount of mounts) {
        expect(defined, `${name}: secret ${mount.source} is defined`).toHaveProperty(mount.source);
        used.add(mount.source);
      }
      const texts = [...Object.values(serviceEnvironment(service)), ...[service.entrypoint, service.command, service.healthcheck].map((t) => JSON.stringify(t ?? ''))];
      for (const path of texts.flatMap((t) => t.match(/\/run\/secrets\/[\w.-]+/g) ?? [])) {
        expect(mounts.map((m) => m.target), `${name}: ${path} is mounted`).toContain(path);
      }
      // Nothing mounted that nobody reads.
      for (const mount of mounts) expect(texts.some((t) => t.includes(mount.target)), `${name}: ${mount.target} is read`).toBe(true);
    }
    expect([...used].sort(), 'every defined secret is mounted somewhere').toEqual(Object.keys(defined).sort());
    expect(generated.created.length).toBeGreaterThan(0);
  });

  it('reaches PostgreSQL over TLS only: the server refuses plaintext, every service verifies its certificate (name postgres)', () => {
    const postgres = model.services.postgres!;
    const command = (postgres.command as string[]).join(' ');
    expect(command).toContain('ssl=on');
    const hbaMount = (postgres.volumes ?? []).map(String).find((v) => v.includes('pg_hba.conf'))!;
    expect(command).toContain(`hba_file=${hbaMount.split(':')[1]}`);
    const rules = readFileSync(join(root, hbaMount.split(':')[0]!), 'utf8')
      .split('\n')
      .map((line) => line.replace(/#.*/, '').trim().split(/\s+/))
      .filter((fields) => fields[0]);
    // Over TCP: TLS rules only, and whatever arrives without TLS is refused.
    for (const rule of rules) expect(['local', 'hostssl', 'hostnossl'], rule.join(' ')).toContain(rule[0]);
    expect(rules.filter((r) => r[0] === 'hostnossl').every((r) => r.at(-1) === 'reject')).toBe(true);
    expect(rules.at(-1)).toEqual(['hostnossl', 'all', 'all', 'all', 'reject']);
    expect(rules.filter((r) => r[0] === 'hostssl' && r.at(-1) === 'trust').every((r) => /^(127\.0\.0\.1\/32|::1\/128)$/.test(r[3]!)), 'trust on loopback only').toBe(true);
    // The server's certificate and its key (copied 0600 for postgres by the entrypoint wrapper) are mounted.
    const certPath = /ssl_cert_file=(\S+)/.exec(command)![1]!;
    const cert = new X509Certificate(readFileSync(mountedFile('postgres', certPath)));
    expect(cert.checkHost('postgres')).toBe('postgres');
    expect(JSON.stringify(postgres.entrypoint)).toMatch(/install -m 0600 -o postgres .*\/run\/secrets\/tls-postgres-key\.pem/);
    for (const [name, service] of builtServices) {
      const file = serviceEnvironment(service).DATABASE_URL_FILE;
      if (!file) continue;
      const url = new URL(readFileSync(mountedFile(name, file), 'utf8').trim());
      expect(url.hostname, name).toBe('postgres');
      expect(url.searchParams.get('sslmode'), `${name}: sslmode`).toBe('verify-full');
      const ca = new X509Certificate(readFileSync(mountedFile(name, url.searchParams.get('sslrootcert')!)));
      expect(cert.verify(ca.publicKey), `${name}: sslrootcert is the CA of the server's certificate`).toBe(true);
    }
  });

  it('runs every service of ours in production mode with the CA and the certificate of its own service name', () => {
    for (const [name, service] of builtServices) {
      const env = serviceEnvironment(service);
      expect(env.NODE_ENV, `${name}: NODE_ENV`).toBe('production');
      const identity = serviceOfBuild(service);
      const ca = new X509Certificate(readFileSync(mountedFile(name, env.TLS_CA_FILE!)));
      const cert = new X509Certificate(readFileSync(mountedFile(name, env.TLS_CERT_FILE!)));
      expect(cert.verify(ca.publicKey), `${name}: certificate signed by the mounted CA`).toBe(true);
      expect(cert.subjectAltName?.split(', ')[0], `${name}: certificate of ${identity}`).toBe(`DNS:${identity}`);
      expect(cert.checkPrivateKey(createPrivateKey(readFileSync(mountedFile(name, env.TLS_KEY_FILE!)))), `${name}: key matches`).toBe(true);
    }
  });
});

describe('the Dockerfile (one for every service, ARG SERVICE)', () => {
  const dockerfile = readDockerfile(join(root, DOCKERFILE));
  const instructions = dockerfile.stages.flatMap((s) => s.instructions);

  it('multi-stage, pinned node base, non-root, production, exec-form CMD on built JS in the service folder', () => {
    expect(dockerfile.stages.length).toBeGreaterThanOrEqual(2);
    for (const stage of dockerfile.stages) {
      const from = substitute(stage.from, dockerfile.globalArgs);
      if (dockerfile.stages.some((s) => s.name === from)) continue;
      expect(isPinned(from), `FROM ${from}`).toBe(true);
      expect(from).toBe(dotenv.NODE_IMAGE);
    }
    const final = dockerfile.stages.at(-1)!;
    const last = (keyword: string) => final.instructions.filter((i) => i.keyword === keyword).at(-1);
    expect(last('USER')?.args, 'runs as a non-root user').toMatch(/^(?!root$|0$)\S+$/);
    expect(final.instructions.some((i) => i.keyword === 'ENV' && /\bNODE_ENV=production\b/.test(i.args))).toBe(true);
    expect(last('WORKDIR')?.args).toBe('/app/services/${SERVICE}');
    expect(last('CMD')?.json, 'exec-form CMD').toEqual(['node', 'dist/main.js']);
    expect(last('HEALTHCHECK')?.json?.[0], 'exec-form HEALTHCHECK').toBe('node');
    expect(final.instructions.filter((i) => i.keyword === 'RUN'), 'nothing runs in the runtime stage').toEqual([]);
    // The npm version the image pins is the one this machine (and the replay) uses.
    const npmArg = instructions.find((i) => i.keyword === 'ARG' && i.args.startsWith('NPM_VERSION='));
    expect(npmArg?.args).toBe(`NPM_VERSION=${dotenv.NPM_VERSION}`);
  });

  it("installs only the SERVICE workspace, and its production dependencies without the service's own optional ones", () => {
    const runs = instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
    // The web app's own stage (built once, carried by the api-gateway's image only) installs apps/web.
    const webInstalls = runs.filter((r) => /\bnpm ci\b/.test(r) && r.includes('--workspace apps/web'));
    expect(webInstalls).toHaveLength(1);
    const installs = runs.filter((r) => /\bnpm ci\b/.test(r) && !webInstalls.includes(r));
    expect(installs).toHaveLength(2);
    for (const install of installs) expect(install).toContain('--workspace "services/$SERVICE"');
    const prod = installs.find((r) => r.includes('--omit=dev'));
    // The service's own optional dependencies (chDB) go; --omit=optional would also drop the
    // platform binaries of its dependencies (@node-rs/argon2), and the identity service would not start.
    expect(prod, 'no embedded engines (chDB is optional) in the image').toContain('npm pkg delete devDependencies optionalDependencies');
    expect(prod).not.toContain('--omit=optional');
    expect(runs.some((r) => r.includes('tsc -b "services/$SERVICE"'))).toBe(true);
    expect(runs.some((r) => r.includes('scripts/generate.mjs'))).toBe(true);
  });

  it('gives npm ci every workspace manifest, picked from the root workspaces list (none to list here)', () => {
    const picker = dockerfile.stages.find((s) => s.name === 'workspace-manifests')!;
    const pick = picker.instructions.find((i) => i.keyword === 'RUN')!;
    expect(pick.json?.join(' ')).toContain("require('./package.json').workspaces");
    const sources = picker.instructions.filter((i) => i.keyword === 'COPY').map((i) => i.args.split(/\s+/)[0]);
    for (const workspace of rootPackage.workspaces) {
      expect(sources.some((source) => workspace.startsWith(`${source}/`)), `${workspace} is in the picker's sources`).toBe(true);
    }
    const manifests = dockerfile.stages.find((s) => s.name === 'manifests')!;
    expect(manifests.instructions.some((i) => i.keyword === 'COPY' && i.flags.from === 'workspace-manifests' && i.args.startsWith('/manifests '))).toBe(true);
    // The picker (the replay proves it copies each one) runs before any npm ci.
    expect(instructions.findIndex((i) => i === pick)).toBeLessThan(instructions.findIndex((i) => i.keyword === 'RUN' && /\bnpm ci\b/.test(i.args)));
  });
});

describe('.dockerignore', () => {
  const patterns = parseDockerignore(readFileSync(join(root, '.dockerignore'), 'utf8'));

  it('keeps installed modules, build output, local data, git and secrets out of the context', () => {
    for (const path of [
      'node_modules/zod/package.json',
      'services/bank-service/node_modules/x/index.js',
      'services/bank-service/dist/main.js',
      'packages/contracts/src/gen/bank-service-api/bank_service.ts',
      '.git/HEAD',
      '.data/postgres/PG_VERSION',
      '.cache/kafka/libs/kafka.jar',
      '.env',
      'services/api-gateway/.env.local',
      'services/bank-service/test/ledger.test.ts',
      'coverage/coverage-summary.json',
      'bench/results/run.json',
    ]) {
      expect(isExcluded(patterns, path), path).toBe(true);
    }
  });

  it('lets in what the image builds read', () => {
    const files = new Set(listContextFiles(root));
    for (const path of ['package.json', 'package-lock.json', 'tsconfig.base.json', 'services/payment-gateway-mock/package.json', 'scripts/generate.mjs', 'services/common/wallet-api/openapi.yaml', 'packages/platform/src/index.ts', 'packages/testkit/package.json']) {
      expect(files.has(path), path).toBe(true);
    }
    expect([...files].some((f) => f.includes('node_modules') || f.startsWith('.git/') || f.includes('/dist/'))).toBe(false);
  });
});

describe('deploy/kafka/create-topics.sh', () => {
  it('creates the contract topics idempotently with the configured partitions', async () => {
    const { OPERATIONS_TOPIC, OPERATIONS_DLQ_TOPIC } = await import('@wallet/contracts');
    const dir = mkdtempSync(join(tmpdir(), 'kafka-init-'));
    try {
      // A stand-in for /opt/kafka/bin/kafka-topics.sh that records its arguments.
      const stub = join(dir, 'kafka-topics.sh');
      writeFileSync(stub, `#!/bin/sh\necho "$@" >> "${join(dir, 'calls.txt')}"\n`);
      chmodSync(stub, 0o755);
      const kafkaInit = model.services['kafka-init']!;
      const env = { PATH: process.env.PATH ?? '', ...serviceEnvironment(kafkaInit), KAFKA_TOPICS_BIN: stub };
      const result = spawnSync('sh', [join(root, 'deploy', 'kafka', 'create-topics.sh')], { env, encoding: 'utf8' });
      expect(result.status, result.stderr).toBe(0);
      const calls = readFileSync(join(dir, 'calls.txt'), 'utf8').trim().split('\n');
      const creates = calls.filter((c) => c.includes('--create'));
      expect(creates).toHaveLength(2);
      for (const call of creates) {
        expect(call).toContain('--bootstrap-server kafka:9092');
        expect(call).toContain('--if-not-exists');
      }
      expect(creates[0]).toContain(`--topic ${OPERATIONS_TOPIC} --partitions ${dotenv.KAFKA_OPERATIONS_PARTITIONS}`);
      expect(creates[1]).toContain(`--topic ${OPERATIONS_DLQ_TOPIC} --partitions 1`);
      // A bad partition count stops the job (and therefore the stack) with a message.
      const bad = spawnSync('sh', [join(root, 'deploy', 'kafka', 'create-topics.sh')], { env: { ...env, KAFKA_OPERATIONS_PARTITIONS: 'many' }, encoding: 'utf8' });
      expect(bad.status).not.toBe(0);
      expect(bad.stderr).toContain('KAFKA_OPERATIONS_PARTITIONS');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('uses a valid KRaft cluster id (16 bytes, base64url)', () => {
    const id = serviceEnvironment(model.services.kafka!).CLUSTER_ID!;
    expect(Buffer.from(id, 'base64url')).toHaveLength(16);
    expect(Buffer.from(id, 'base64url').toString('base64url')).toBe(id);
  });
});
