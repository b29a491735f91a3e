// Starts (or adopts, from the environment) the infrastructure the wallet
// needs: PostgreSQL and a Kafka broker (KRaft). ClickHouse needs no process:
// the analytics-service embeds chDB unless CLICKHOUSE_URL points at a server.
import { createServer } from 'node:net';
import { join } from 'node:path';
import { ensureKafka, ensureTopics } from './kafka.mjs';
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
 * @param {{ dataDir: string, purpose: 'test' | 'start', pgPort?: number, kafkaPort?: number, kafkaControllerPort?: number, log?: (source: string, line: string) => void }} options
 */
export async function ensureInfra({ dataDir, purpose, pgPort, kafkaPort, kafkaControllerPort, log = () => {} }) {
  const stops = [];
  try {
    const postgres = await ensurePostgres({
      dataDir: join(dataDir, 'postgres'),
      port: pgPort ?? (await freePort()),
      databases: purpose === 'test' ? [] : ['wallet'],
      log: (line) => log('postgres', line),
    });
    stops.push(postgres.stop);
    const kafka = await ensureKafka({
      dataDir: join(dataDir, 'kafka'),
      port: kafkaPort ?? (await freePort()),
      controllerPort: kafkaControllerPort ?? (await freePort()),
      log: (line) => log('kafka', line),
    });
    stops.push(kafka.stop);
    await ensureTopics(kafka.brokers);
    const env = {
      TEST_DATABASE_ADMIN_URL: postgres.baseUrl,
      // One database; each service keeps its tables in its own schema.
      DATABASE_URL: postgres.urlFor('wallet'),
      KAFKA_BROKERS: kafka.brokers,
    };
    return {
      env,
      postgres,
      kafka,
      /** Kafka and PostgreSQL together (nothing uses them any more), each bounded by graceMs. */
      stop: async (graceMs) => {
        await Promise.all(stops.map((stop) => stop(graceMs).catch(() => {})));
      },
    };
  } catch (error) {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    throw error;
  }
}
