// Starts (or adopts, from the environment) the infrastructure the wallet
// needs: PostgreSQL now; Kafka and ClickHouse are added by later phases.
import { createServer } from 'node:net';
import { join } from 'node:path';
import { ensurePostgres } from './postgres.mjs';

export async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * @param {{ dataDir: string, purpose: 'test' | 'start', pgPort?: number, log?: (source: string, line: string) => void }} options
 */
export async function ensureInfra({ dataDir, purpose, pgPort, log = () => {} }) {
  const stops = [];
  try {
    const postgres = await ensurePostgres({
      dataDir: join(dataDir, 'postgres'),
      port: pgPort ?? (await freePort()),
      databases: purpose === 'test' ? [] : ['bank', 'card_adapter'],
      log: (line) => log('postgres', line),
    });
    stops.push(postgres.stop);
    const env = {
      TEST_DATABASE_ADMIN_URL: postgres.baseUrl,
      BANK_DATABASE_URL: postgres.urlFor('bank'),
      CARD_ADAPTER_DATABASE_URL: postgres.urlFor('card_adapter'),
    };
    return {
      env,
      postgres,
      stop: async () => {
        for (const stop of stops.reverse()) await stop().catch(() => {});
      },
    };
  } catch (error) {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    throw error;
  }
}
