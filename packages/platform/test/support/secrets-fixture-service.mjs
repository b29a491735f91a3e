// A service whose config holds secrets, run through runService, for secrets.test.ts.
import { z } from 'zod';
import { env, loadConfigWithSecrets, runService } from '../../dist/index.js';

const schema = z.object({
  NODE_ENV: z.string().default('development'),
  LOG_LEVEL: env.logLevel(),
  FIXTURE_DATABASE_PASSWORD: z.string().min(1),
});

await runService({
  name: 'secrets-fixture',
  loadConfig: () => loadConfigWithSecrets(schema, { FIXTURE_DATABASE_PASSWORD: { devDefault: 'wallet-dev-password' } }),
  logLevel: (config) => config.LOG_LEVEL,
  start: async () => ({ info: { passwordLength: 0 }, close: async () => {} }),
});
