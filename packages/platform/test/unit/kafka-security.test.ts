import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, env, kafkaConnectionOptions, kafkaSecretSpecs, kafkaSecurityShape, loadConfig, loadConfigWithSecrets } from '@wallet/platform';

const schema = z.object({ NODE_ENV: z.string().default('development'), KAFKA_BROKERS: env.string('127.0.0.1:9092'), ...kafkaSecurityShape });
const KEY_BODY = 'MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg-not-a-real-key';
const PASSWORD = 'kafka-sasl-password-never-printed';

let dir: string;
let files: { ca: string; cert: string; key: string; notPem: string; password: string };
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'wallet-kafka-security-'));
  const write = (name: string, content: string) => {
    const file = path.join(dir, name);
    writeFileSync(file, content);
    return file;
  };
  files = {
    ca: write('ca.crt', '-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n'),
    cert: write('client.crt', '-----BEGIN CERTIFICATE-----\nCLIENT\n-----END CERTIFICATE-----\n'),
    key: write('client.key', `-----BEGIN PRIVATE KEY-----\n${KEY_BODY}\n-----END PRIVATE KEY-----\n`),
    notPem: write('garbage.txt', 'not a certificate'),
    password: write('sasl-password', `${PASSWORD}\n`),
  };
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function options(vars: Record<string, string>, brokers?: string[]) {
  return kafkaConnectionOptions(loadConfig(schema, vars), brokers);
}

function problems(vars: Record<string, string>): string[] {
  try {
    options(vars);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('kafkaConnectionOptions', () => {
  it('is empty by default: plaintext without SASL, as the local broker', () => {
    expect(options({})).toEqual({});
  });

  it('with KAFKA_TLS alone verifies the brokers against the system CAs', () => {
    const result = options({ KAFKA_TLS: 'true' });
    expect(result.tls).toMatchObject({ rejectUnauthorized: true, minVersion: 'TLSv1.2' });
    expect(result.tls?.ca).toBeUndefined();
    expect(result.sasl).toBeUndefined();
  });

  it('reads the CA and the client certificate and key from their PEM files', () => {
    const result = options({ KAFKA_TLS: 'true', KAFKA_TLS_CA_FILE: files.ca, KAFKA_TLS_CERT_FILE: files.cert, KAFKA_TLS_KEY_FILE: files.key });
    expect(String(result.tls?.ca)).toContain('CA');
    expect(String(result.tls?.cert)).toContain('CLIENT');
    expect(String(result.tls?.key)).toContain(KEY_BODY);
  });

  it('keeps the private key out of JSON and inspect output, and the client still gets it by spreading', () => {
    const { tls } = options({ KAFKA_TLS: 'true', KAFKA_TLS_CERT_FILE: files.cert, KAFKA_TLS_KEY_FILE: files.key });
    expect(JSON.stringify({ tls })).not.toContain(KEY_BODY);
    expect(inspect(tls)).toMatch(/key: '\[redacted\]'/);
    expect(String({ ...tls }.key)).toContain(KEY_BODY);
  });

  it('sends SNI only when every broker is a DNS name', () => {
    expect(options({ KAFKA_TLS: 'true' }, ['kafka-1.example.net:9093', 'kafka-2.example.net:9093']).tlsServerName).toBe(true);
    expect(options({ KAFKA_TLS: 'true' }, ['127.0.0.1:9093']).tlsServerName).toBeUndefined();
    expect(options({ KAFKA_TLS: 'true' }, ['kafka:9093', '[::1]:9093']).tlsServerName).toBeUndefined();
    expect(options({}, ['kafka:9092']).tlsServerName).toBeUndefined();
  });

  it('maps SASL SCRAM with a password provider (the string itself is in no options object)', () => {
    const result = options({ KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512', KAFKA_SASL_USERNAME: 'bank-service', KAFKA_SASL_PASSWORD: PASSWORD });
    expect(result.sasl?.mechanism).toBe('SCRAM-SHA-512');
    expect(result.sasl?.username).toBe('bank-service');
    expect(result.sasl?.password()).toBe(PASSWORD);
    expect(JSON.stringify(result)).not.toContain(PASSWORD);
    expect(result.tls).toBeUndefined();
  });

  it('accepts SASL PLAIN over TLS and refuses it without TLS', () => {
    const vars = { KAFKA_SASL_MECHANISM: 'PLAIN', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: PASSWORD };
    expect(options({ ...vars, KAFKA_TLS: 'true' }).sasl?.mechanism).toBe('PLAIN');
    expect(problems(vars)).toEqual([expect.stringMatching(/^KAFKA_SASL_MECHANISM: PLAIN .* needs KAFKA_TLS=true/)]);
  });

  it('refuses an unknown mechanism, and SASL without a username or password, naming the variables', () => {
    expect(() => loadConfig(schema, { KAFKA_SASL_MECHANISM: 'GSSAPI' })).toThrow(/KAFKA_SASL_MECHANISM/);
    const found = problems({ KAFKA_SASL_MECHANISM: 'SCRAM-SHA-256' });
    expect(found).toEqual([expect.stringMatching(/^KAFKA_SASL_USERNAME: missing/), expect.stringMatching(/^KAFKA_SASL_PASSWORD: missing/)]);
    expect(problems({ KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: PASSWORD })).toEqual([
      'KAFKA_SASL_USERNAME: set, but KAFKA_SASL_MECHANISM is not',
      'KAFKA_SASL_PASSWORD: set, but KAFKA_SASL_MECHANISM is not',
    ]);
  });

  it('refuses TLS files without KAFKA_TLS, half a client certificate, and unreadable or non-PEM files', () => {
    expect(problems({ KAFKA_TLS_CA_FILE: files.ca })).toEqual([expect.stringMatching(/^KAFKA_TLS_CA_FILE: set, but KAFKA_TLS is false/)]);
    expect(problems({ KAFKA_TLS: 'true', KAFKA_TLS_CERT_FILE: files.cert })).toEqual([expect.stringMatching(/^KAFKA_TLS_KEY_FILE: missing/)]);
    expect(problems({ KAFKA_TLS: 'true', KAFKA_TLS_KEY_FILE: files.key })).toEqual([expect.stringMatching(/^KAFKA_TLS_CERT_FILE: missing/)]);
    expect(problems({ KAFKA_TLS: 'true', KAFKA_TLS_CA_FILE: path.join(dir, 'absent.pem') })).toEqual([expect.stringMatching(/^KAFKA_TLS_CA_FILE: cannot read .*ENOENT/)]);
    expect(problems({ KAFKA_TLS: 'true', KAFKA_TLS_CA_FILE: files.notPem })).toEqual([expect.stringMatching(/^KAFKA_TLS_CA_FILE: .* is not a PEM file/)]);
  });
});

describe('KAFKA_SASL_PASSWORD as a secret', () => {
  const sasl = { KAFKA_SASL_MECHANISM: 'SCRAM-SHA-256', KAFKA_SASL_USERNAME: 'analytics-service' };

  it('comes from KAFKA_SASL_PASSWORD_FILE', () => {
    const config = loadConfigWithSecrets(schema, kafkaSecretSpecs, { ...sasl, KAFKA_SASL_PASSWORD_FILE: files.password });
    expect(kafkaConnectionOptions(config).sasl?.password()).toBe(PASSWORD);
  });

  it('is refused inline in production, without printing it; unset stays allowed (no SASL)', () => {
    expect(() => loadConfigWithSecrets(schema, kafkaSecretSpecs, { NODE_ENV: 'production', ...sasl, KAFKA_SASL_PASSWORD: PASSWORD })).toThrow(
      /KAFKA_SASL_PASSWORD: a secret given inline/,
    );
    try {
      loadConfigWithSecrets(schema, kafkaSecretSpecs, { NODE_ENV: 'production', KAFKA_SASL_PASSWORD: PASSWORD });
    } catch (error) {
      expect(String(error)).not.toContain(PASSWORD);
    }
    expect(kafkaConnectionOptions(loadConfigWithSecrets(schema, kafkaSecretSpecs, { NODE_ENV: 'production' }))).toEqual({});
  });
});
