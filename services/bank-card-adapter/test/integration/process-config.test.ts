// The built process refuses a configuration it cannot run safely: exit code 2
// and one message naming each variable to fix (never a secret's value).
import { fileURLToPath } from 'node:url';
import { startService, type ServiceProcess } from '@wallet/testkit';
import { describe, expect, it } from 'vitest';
import { testTlsEnv } from '../../../../test/support/pki.js';

const ADAPTER_MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));

/** Runs dist/main.js with `env` (TLS_* and secrets of the caller's environment cleared) until it exits. */
async function exitOf(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const cleared = { TLS_CA_FILE: '', TLS_CERT_FILE: '', TLS_KEY_FILE: '', DATABASE_URL: '', CARD_ADAPTER_GRPC_PORT: '0', CARD_ADAPTER_OPS_PORT: '0' };
  const proc: ServiceProcess = startService('bank-card-adapter', ADAPTER_MAIN, { ...cleared, ...env });
  const code = proc.child.exitCode ?? (await new Promise<number | null>((resolve) => proc.child.once('exit', resolve)));
  return { code, output: proc.logs.join('\n') };
}

describe('bank-card-adapter process configuration', () => {
  it('without its TLS files: exit 2, naming TLS_CA_FILE, TLS_CERT_FILE and TLS_KEY_FILE', async () => {
    const { code, output } = await exitOf({});
    expect(code).toBe(2);
    for (const name of ['TLS_CA_FILE', 'TLS_CERT_FILE', 'TLS_KEY_FILE']) expect(output).toContain(name);
  });

  it('NODE_ENV=production with secrets given inline: exit 2, naming each secret, printing none', async () => {
    const secrets = {
      DATABASE_URL: 'postgres://card_adapter:inline-password-123@127.0.0.1:1/card_adapter',
      CARD_ADAPTER_CARD_FINGERPRINT_SECRET: 'an-inline-fingerprint-secret-0123',
      CARD_ADAPTER_PAYMENT_GATEWAY_API_KEY: 'an-inline-merchant-api-key-0123',
    };
    const { code, output } = await exitOf({ ...(await testTlsEnv('bank-card-adapter')), NODE_ENV: 'production', ...secrets });
    expect(code).toBe(2);
    for (const [name, value] of Object.entries(secrets)) {
      expect(output).toContain(name);
      expect(output).not.toContain(value);
    }
  });
});
