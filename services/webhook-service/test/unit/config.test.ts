import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEVELOPMENT_SECRET_KEY, loadWebhookConfig } from '../../src/config.js';

function secretFile(name: string, value: string): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'webhook-config-')), name);
  writeFileSync(file, value);
  return file;
}

const tls = { TLS_CA_FILE: '/dev/null', TLS_CERT_FILE: '/dev/null', TLS_KEY_FILE: '/dev/null' };

describe('config', () => {
  it('refuses loopback URLs in production', () => {
    const files = {
      DATABASE_URL_FILE: secretFile('db', 'postgres://u:p@db:5432/webhooks'),
      WEBHOOK_SECRET_KEY_FILE: secretFile('key', Buffer.alloc(32, 1).toString('base64')),
    };
    expect(() => loadWebhookConfig({ ...tls, ...files, NODE_ENV: 'production', WEBHOOK_ALLOW_LOOPBACK_URLS: 'true' })).toThrow(/WEBHOOK_ALLOW_LOOPBACK_URLS: refused when NODE_ENV=production/);
  });

  it('refuses the built-in secret key in production, and an inline one: it must come from WEBHOOK_SECRET_KEY_FILE', () => {
    const database = { DATABASE_URL_FILE: secretFile('db', 'postgres://u:p@db:5432/webhooks') };
    expect(() => loadWebhookConfig({ ...tls, ...database, NODE_ENV: 'production' })).toThrow(/WEBHOOK_SECRET_KEY: missing; set WEBHOOK_SECRET_KEY_FILE/);
    expect(() => loadWebhookConfig({ ...tls, ...database, NODE_ENV: 'production', WEBHOOK_SECRET_KEY_FILE: secretFile('key', DEVELOPMENT_SECRET_KEY) })).toThrow(/WEBHOOK_SECRET_KEY/);
  });

  it('refuses a secret key that is not 32 bytes without printing it', () => {
    expect(() => loadWebhookConfig({ ...tls, WEBHOOK_SECRET_KEY: 'c2VjcmV0LXZhbHVl' })).toThrow(/WEBHOOK_SECRET_KEY: must decode to 32 bytes/);
    try {
      loadWebhookConfig({ ...tls, WEBHOOK_SECRET_KEY: 'c2VjcmV0LXZhbHVl' });
    } catch (error) {
      expect((error as Error).message).not.toContain('c2VjcmV0LXZhbHVl');
    }
  });

  it('has working local defaults (ports 50054 and 9107, one day of retries)', () => {
    const config = loadWebhookConfig({ ...tls });
    expect(config).toMatchObject({ WEBHOOK_GRPC_PORT: 50054, WEBHOOK_OPS_PORT: 9107, WEBHOOK_RETRY_WINDOW_MS: 86_400_000, WEBHOOK_ALLOW_LOOPBACK_URLS: false });
    expect(config.secretKey).toHaveLength(32);
  });
});
