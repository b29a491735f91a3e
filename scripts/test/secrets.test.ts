// scripts/secrets.mjs (`npm run secrets:generate`): every secret the compose
// stack mounts, random and URL-safe, created once and never overwritten
// without --force; derived files follow their inputs; an operator's own
// certificates are left alone; nothing secret is printed.
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { SERVICE_NAMES } from '../lib/pki.mjs';
import { BASE64_KEY_SECRETS, INFRA_SERVERS, RANDOM_SECRETS, generateSecrets, secretsMissing } from '../secrets.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function newDir(): string {
  const parent = mkdtempSync(join(tmpdir(), 'secrets-test-'));
  dirs.push(parent);
  return join(parent, 'secrets');
}

/** Every file under dir (relative path -> content), the PKI's working folder left out. */
function snapshot(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    const rel = path.slice(dir.length + 1);
    if (!rel.startsWith('.pki')) files[rel] = readFileSync(path, 'utf8');
  }
  return files;
}

describe('npm run secrets:generate', () => {
  it('creates every secret: random, URL-safe, distinct, in a folder only its owner can enter', async () => {
    const dir = newDir();
    expect(secretsMissing(dir).length).toBeGreaterThan(0);
    const result = await generateSecrets({ dir, env: {} });
    expect(secretsMissing(dir)).toEqual([]);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const values = RANDOM_SECRETS.map((name) => readFileSync(join(dir, name), 'utf8').trim());
    for (const value of values) expect(value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(new Set(values).size).toBe(values.length);
    expect(result.created).toEqual(expect.arrayContaining([...RANDOM_SECRETS, 'bank-database-url', 'tls/ca.pem']));
    const password = readFileSync(join(dir, 'bank-db-password'), 'utf8').trim();
    expect(readFileSync(join(dir, 'bank-database-url'), 'utf8').trim()).toBe(`postgresql://bank_service:${password}@postgres:5432/bank?sslmode=verify-full&sslrootcert=/run/secrets/tls-ca.pem`);
    // Keys read as standard base64 of 32 bytes (the webhook-service's WEBHOOK_SECRET_KEY_FILE).
    for (const name of BASE64_KEY_SECRETS) {
      const key = readFileSync(join(dir, name), 'utf8').trim();
      expect(key, name).toMatch(/^[A-Za-z0-9+/]{43}=$/);
      expect(Buffer.from(key, 'base64').length, name).toBe(32);
    }
    expect(readFileSync(join(dir, 'webhook-database-url'), 'utf8')).toContain('@postgres:5432/webhooks?sslmode=verify-full');
  });

  it('issues one certificate per service and one for PostgreSQL, its compose service name first in the SAN, signed by the CA', async () => {
    const dir = newDir();
    await generateSecrets({ dir, env: {} });
    const ca = new X509Certificate(readFileSync(join(dir, 'tls', 'ca.pem')));
    for (const service of [...SERVICE_NAMES, ...INFRA_SERVERS]) {
      const cert = new X509Certificate(readFileSync(join(dir, 'tls', `${service}.pem`)));
      expect(cert.verify(ca.publicKey), service).toBe(true);
      expect(cert.subjectAltName?.split(', ')[0]).toBe(`DNS:${service}`);
      expect(cert.checkHost(service)).toBe(service);
    }
  });

  it('is idempotent: a second run changes nothing, and only --force replaces a secret', async () => {
    const dir = newDir();
    await generateSecrets({ dir, env: {} });
    const first = snapshot(dir);
    const again = await generateSecrets({ dir, env: {} });
    expect(again.created).toEqual([]);
    expect(again.rewritten).toEqual([]);
    expect(snapshot(dir)).toEqual(first);
    const forced = await generateSecrets({ dir, env: {}, force: true });
    const after = snapshot(dir);
    for (const name of [...RANDOM_SECRETS, 'tls/ca.pem', 'tls/bank-service.pem', 'tls/bank-service-key.pem']) {
      expect(after[name], name).not.toBe(first[name]);
      expect(forced.rewritten, name).toContain(name);
    }
  });

  it('completes a folder with a missing file without touching the others', async () => {
    const dir = newDir();
    await generateSecrets({ dir, env: {} });
    const first = snapshot(dir);
    rmSync(join(dir, 'valkey-password'));
    const result = await generateSecrets({ dir, env: {} });
    expect(result.created).toEqual(['valkey-password']);
    // The files derived from it follow; nothing else moves.
    expect(result.rewritten.sort()).toEqual(['gateway-redis-url', 'valkey-users.acl']);
    const after = snapshot(dir);
    for (const name of Object.keys(first).filter((n) => !['valkey-password', 'gateway-redis-url', 'valkey-users.acl'].includes(n))) {
      expect(after[name], name).toBe(first[name]);
    }
  });

  it('writes the connection URLs from the database names and roles compose uses (.env or the environment)', async () => {
    const dir = newDir();
    await generateSecrets({ dir, env: {} });
    const password = readFileSync(join(dir, 'card-adapter-db-password'), 'utf8').trim();
    const result = await generateSecrets({ dir, env: { CARD_ADAPTER_DB_USER: 'cards_owner', CARD_ADAPTER_DB_NAME: 'cards' } });
    expect(result.rewritten).toEqual(['card-adapter-database-url']);
    expect(readFileSync(join(dir, 'card-adapter-database-url'), 'utf8').trim()).toBe(`postgresql://cards_owner:${password}@postgres:5432/cards?sslmode=verify-full&sslrootcert=/run/secrets/tls-ca.pem`);
  });

  it("leaves an operator's own certificate and key alone, even with --force", async () => {
    const dir = newDir();
    await generateSecrets({ dir, env: {} });
    writeFileSync(join(dir, 'tls', 'api-gateway.pem'), 'operator certificate\n');
    const result = await generateSecrets({ dir, env: {}, force: true });
    expect(result.foreign.sort()).toEqual(['tls/api-gateway-key.pem', 'tls/api-gateway.pem']);
    expect(readFileSync(join(dir, 'tls', 'api-gateway.pem'), 'utf8')).toBe('operator certificate\n');
  });

  it('prints the names of what it created, never a value', () => {
    const dir = newDir();
    const run = spawnSync(process.execPath, [join(root, 'scripts', 'secrets.mjs'), '--dir', dir], { encoding: 'utf8', timeout: 60_000 });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain('valkey-password');
    const output = run.stdout + run.stderr;
    for (const [name, value] of Object.entries(snapshot(dir))) {
      for (const line of value.split('\n').filter((l) => l.length >= 20)) expect(output.includes(line), `${name} printed`).toBe(false);
    }
    const again = spawnSync(process.execPath, [join(root, 'scripts', 'secrets.mjs'), '--dir', dir], { encoding: 'utf8', timeout: 60_000 });
    expect(again.stdout).toMatch(/nothing changed/);
  });
});
