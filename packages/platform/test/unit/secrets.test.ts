import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, SECRET_FILE_BYTES_MAX, env, loadConfigWithSecrets, resolveSecrets, secretFileKeys } from '@wallet/platform';

const DEV_PASSWORD = 'wallet-dev-password';
const SECRET = 's3cr3t-value-never-printed';
const specs = { BANK_DATABASE_PASSWORD: { devDefault: DEV_PASSWORD, knownDevValues: ['postgres'] } };
const schema = z.object({ NODE_ENV: z.string().default('development'), BANK_DATABASE_PASSWORD: z.string().min(1), BANK_PORT: env.port(1) });

let dir: string;
let secretFile: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'wallet-secrets-'));
  secretFile = path.join(dir, 'password');
  writeFileSync(secretFile, `  ${SECRET}\n`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function problemsOf(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('secrets from X or X_FILE', () => {
  it('reads X_FILE, trimmed, in any mode', () => {
    for (const NODE_ENV of ['development', 'production']) {
      expect(loadConfigWithSecrets(schema, specs, { NODE_ENV, BANK_DATABASE_PASSWORD_FILE: secretFile }).BANK_DATABASE_PASSWORD).toBe(SECRET);
    }
  });

  it('outside production takes X inline, or the development default when unset', () => {
    expect(loadConfigWithSecrets(schema, specs, { BANK_DATABASE_PASSWORD: 'inline' }).BANK_DATABASE_PASSWORD).toBe('inline');
    expect(loadConfigWithSecrets(schema, specs, {}).BANK_DATABASE_PASSWORD).toBe(DEV_PASSWORD);
  });

  it('in production refuses an inline secret, naming the variable and not the value', () => {
    const problems = problemsOf(() => loadConfigWithSecrets(schema, specs, { NODE_ENV: 'production', BANK_DATABASE_PASSWORD: SECRET }));
    expect(problems).toEqual([expect.stringMatching(/^BANK_DATABASE_PASSWORD: a secret given inline .* set BANK_DATABASE_PASSWORD_FILE\)$/)]);
    expect(problems.join()).not.toContain(SECRET);
  });

  it('in production refuses a missing secret (no development default)', () => {
    const problems = problemsOf(() => loadConfigWithSecrets(schema, specs, { NODE_ENV: 'production' }));
    expect(problems).toEqual([expect.stringMatching(/^BANK_DATABASE_PASSWORD: missing; set BANK_DATABASE_PASSWORD_FILE/)]);
  });

  it('in production refuses a file holding a known development value', () => {
    for (const value of [DEV_PASSWORD, 'postgres']) {
      const file = path.join(dir, `dev-${value}`);
      writeFileSync(file, `${value}\n`);
      const problems = problemsOf(() => loadConfigWithSecrets(schema, specs, { NODE_ENV: 'production', BANK_DATABASE_PASSWORD_FILE: file }));
      expect(problems).toEqual([expect.stringMatching(/^BANK_DATABASE_PASSWORD: is a known development default/)]);
    }
  });

  it('refuses X and X_FILE together, an unreadable, empty or oversized file, naming the variable', () => {
    const empty = path.join(dir, 'empty');
    writeFileSync(empty, ' \n');
    const huge = path.join(dir, 'huge');
    writeFileSync(huge, 'x'.repeat(SECRET_FILE_BYTES_MAX + 1));
    const cases: Array<[NodeJS.ProcessEnv, RegExp]> = [
      [{ BANK_DATABASE_PASSWORD: 'a', BANK_DATABASE_PASSWORD_FILE: secretFile }, /^BANK_DATABASE_PASSWORD: set either/],
      [{ BANK_DATABASE_PASSWORD_FILE: path.join(dir, 'absent') }, /^BANK_DATABASE_PASSWORD_FILE: cannot read .*absent \(ENOENT\)$/],
      [{ BANK_DATABASE_PASSWORD_FILE: empty }, /^BANK_DATABASE_PASSWORD_FILE: .* is empty$/],
      [{ BANK_DATABASE_PASSWORD_FILE: huge }, /^BANK_DATABASE_PASSWORD_FILE: .* is larger than/],
    ];
    for (const [input, expected] of cases) expect(problemsOf(() => loadConfigWithSecrets(schema, specs, input))).toEqual([expect.stringMatching(expected)]);
  });

  it('reports secret and other config problems together, each once', () => {
    const problems = problemsOf(() => loadConfigWithSecrets(schema, specs, { NODE_ENV: 'production', BANK_PORT: 'eighty' }));
    expect(problems.map((problem) => problem.split(':')[0])).toEqual(['BANK_DATABASE_PASSWORD', 'BANK_PORT']);
  });

  it('leaves an optional secret unset when absent, also in production', () => {
    const optional = { CARD_GATEWAY_KEY: { required: false } };
    expect(resolveSecrets(optional, { NODE_ENV: 'production' })).toEqual({ env: { NODE_ENV: 'production' }, problems: [], refused: [] });
  });

  it('refuses secrets the schema does not declare (a programming error, not config)', () => {
    expect(() => loadConfigWithSecrets(schema, { OTHER_SECRET: {} }, {})).toThrow(/OTHER_SECRET/);
  });

  it('lists the X_FILE names for the compose consistency check', () => {
    expect(secretFileKeys(specs)).toEqual(['BANK_DATABASE_PASSWORD_FILE']);
  });
});

describe('runService with secrets', () => {
  const fixture = fileURLToPath(new URL('../support/secrets-fixture-service.mjs', import.meta.url));

  it('exits 2 naming the variable when production gets an inline secret', async () => {
    const child = spawn(process.execPath, [fixture], {
      env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', FIXTURE_DATABASE_PASSWORD: SECRET },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    expect(code).toBe(2);
    expect(output).toMatch(/^secrets-fixture: invalid configuration:\n {2}FIXTURE_DATABASE_PASSWORD: a secret given inline/);
    expect(output).not.toContain(SECRET);
  });
});
