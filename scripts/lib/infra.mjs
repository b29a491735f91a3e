// Starts (or adopts, from the environment) the infrastructure the wallet
// needs: PostgreSQL and a Kafka broker (KRaft). ClickHouse needs no process:
// the analytics-service embeds chDB unless CLICKHOUSE_URL points at a server.
import { createServer } from 'node:net';
import { join } from 'node:path';
import { ensureKafka, ensureTopics } from './kafka.mjs';
import { ensurePostgres } from './postgres.mjs';
import { ensurePki, INFRA_NAMES } from './pki.mjs';

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
 * @param {{ dataDir: string, purpose: 'test' | 'start', pgPort?: number, kafkaPort?: number, kafkaControllerPort?: number, pkiDir?: string, log?: (source: string, line: string) => void }} options
 */
export async function ensureInfra({ dataDir, purpose, pgPort, kafkaPort, kafkaControllerPort, pkiDir, log = () => {} }) {
  // The development CA, every service's certificate (mutual TLS, ADR 0009) and the
  // infrastructure servers' (PostgreSQL's TLS): first, since everything else uses them.
  const pki = await ensurePki({ dir: pkiDir ?? join(dataDir, 'pki'), infra: INFRA_NAMES });
  log('pki', `development CA and certificates in ${pki.dir} (${pki.created.length ? `created ${pki.created.join(', ')}` : 'reused'})`);
  const ports = { pg: pgPort ?? (await freePort()), kafka: kafkaPort ?? (await freePort()), controller: kafkaControllerPort ?? (await freePort()) };
  // Both at once: the JVM takes longest, PostgreSQL starts meanwhile.
  const [pgResult, kafkaResult] = await Promise.allSettled([
    ensurePostgres({
      dataDir: join(dataDir, 'postgres'),
      port: ports.pg,
      databases: purpose === 'test' ? [] : ['wallet'],
      pki,
      log: (line) => log('postgres', line),
    }),
    ensureKafka({
      dataDir: join(dataDir, 'kafka'),
      port: ports.kafka,
      controllerPort: ports.controller,
      log: (line) => log('kafka', line),
    }).then(async (kafka) => {
      try {
        await ensureTopics(kafka.brokers);
        return kafka;
      } catch (error) {
        await kafka.stop().catch(() => {});
        throw error;
      }
    }),
  ]);
  const started = [pgResult, kafkaResult].filter((r) => r.status === 'fulfilled').map((r) => r.value);
  /** Kafka and PostgreSQL together (nothing uses them any more), each bounded by graceMs. */
  const stop = async (graceMs) => {
    await Promise.all(started.map((part) => part.stop(graceMs).catch(() => {})));
  };
  const failed = [pgResult, kafkaResult].find((r) => r.status === 'rejected');
  if (failed) {
    await stop();
    throw failed.reason;
  }
  const postgres = pgResult.value;
  const kafka = kafkaResult.value;
  const env = {
    TEST_DATABASE_ADMIN_URL: postgres.baseUrl,
    // One database; each service keeps its tables in its own schema.
    DATABASE_URL: postgres.urlFor('wallet'),
    KAFKA_BROKERS: kafka.brokers,
    // Read by test/support/pki.ts: the tests' services and clients use this run's certificates.
    TEST_PKI_DIR: pki.dir,
  };
  return { env, postgres, kafka, pki, stop };
}
