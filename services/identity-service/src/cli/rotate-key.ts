// `npm run rotate-key -w @wallet/identity-service`: creates a new current
// signing key now. The previous key stays published until tokens it signed
// have expired; every replica picks the new key up on its next refresh.
import { createLogger, createMetricsRegistry } from '@wallet/platform';
import { configErrorMessage, EXIT_CONFIG } from '@wallet/platform';
import { loadIdentityConfig, type Config } from '../config.js';
import { migrateIdentity } from '../db/migrations.js';
import { createIdentityMetrics } from '../metrics.js';
import { createIdentityPool, createKeyRing } from '../service.js';

let config: Config;
try {
  config = loadIdentityConfig();
} catch (error) {
  process.stderr.write(`${configErrorMessage('identity-service rotate-key', error)}\n`);
  process.exit(EXIT_CONFIG);
}
const logger = createLogger('identity-service', config.LOG_LEVEL);
if (config.IDENTITY_SIGNING_KEY_FILE) {
  logger.error('keys come from IDENTITY_SIGNING_KEY_FILE: rotate by replacing the files (see README)');
  process.exit(EXIT_CONFIG);
}
const pool = createIdentityPool(config, logger);
try {
  await migrateIdentity(config.DATABASE_URL, logger);
  const keyRing = createKeyRing(config, pool, createIdentityMetrics(createMetricsRegistry('identity-service')), Date.now);
  await keyRing.rotateNow();
  logger.info({ kid: keyRing.signingKey().kid }, 'new signing key is current; the previous one stays published until its tokens expire');
} finally {
  await pool.end();
}
