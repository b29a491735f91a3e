// Local Apache Kafka for `npm start` and `npm test`: uses KAFKA_BROKERS when it
// is set, otherwise runs a real single-node Kafka 4.x broker in KRaft mode
// (no ZooKeeper: Kafka 4 removed it) with the machine's Java. The broker jars
// come from Maven Central through the machine's Maven, once, into a
// project-local cache (.cache/kafka/<version>/libs) that later runs reuse.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { root } from './paths.mjs';
import { spawnManaged } from './process.mjs';

/**
 * Pinned broker version. 4.1.x: the newest line that @platformatic/kafka 1.35
 * (our client) lists as supported ("3.5.0 to 4.1.0 and equivalent").
 */
export const KAFKA_VERSION = '4.1.1';
const SCALA_VERSION = '2.13';
/** Kafka 4 logs through log4j2; slf4j 1.7 (pulled by the broker) needs this bridge. */
const LOG4J_SLF4J_VERSION = '2.24.3';
const MAVEN_TIMEOUT_MS = 10 * 60_000;
const FORMAT_TIMEOUT_MS = 180_000;
/** Generous: a JVM starting on a busy 2-core machine can take minutes. */
const START_TIMEOUT_MS = 180_000;
/** Controlled shutdown of a single KRaft node takes a few seconds; then SIGKILL (the log recovers on start). */
const STOP_GRACE_MS = 8_000;
const HEAP = process.env.KAFKA_HEAP_OPTS ?? '-Xms128m -Xmx512m';

/**
 * The project's topics (names from @wallet/contracts, loaded lazily: that
 * package is built by the first `tsc -b`); partitions of the operations topic
 * from KAFKA_OPERATIONS_PARTITIONS (default 3).
 */
export async function defaultTopics(partitions = Number(process.env.KAFKA_OPERATIONS_PARTITIONS || 3)) {
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > 1000) {
    throw new Error(`KAFKA_OPERATIONS_PARTITIONS must be an integer 1-1000, got ${partitions}`);
  }
  const { OPERATIONS_TOPIC, OPERATIONS_DLQ_TOPIC } = await import('@wallet/contracts');
  return [
    { name: OPERATIONS_TOPIC, partitions },
    { name: OPERATIONS_DLQ_TOPIC, partitions: 1 },
  ];
}

/**
 * @param {{ dataDir: string, port: number, controllerPort: number, log?: (line: string) => void, cacheDir?: string }} options
 * @returns {Promise<{ brokers: string, stop: () => Promise<void>, external: boolean }>}
 */
export async function ensureKafka({ dataDir, port, controllerPort, log = () => {}, cacheDir = join(root, '.cache', 'kafka'), useEnv = true, ssl }) {
  // ssl (optional): { port, certPem, keyPem, caPem, clientAuth } adds an SSL listener with PEM
  // stores (tests of Kafka TLS); the PLAINTEXT listener stays for the readiness probe.
  // useEnv: false starts a private broker even when KAFKA_BROKERS is set (tests that stop the broker).
  if (useEnv && process.env.KAFKA_BROKERS) {
    const brokers = process.env.KAFKA_BROKERS;
    // Fail early and clearly when the given cluster is not there.
    await waitForTcp(parseBrokers(brokers)[0], 30_000, undefined);
    return { brokers, stop: async () => {}, external: true };
  }
  const java = findJava();
  const libsDir = await resolveKafkaLibs({ cacheDir, log });
  mkdirSync(dataDir, { recursive: true });
  const logDir = join(dataDir, 'data');
  const config = join(dataDir, 'server.properties');
  const log4jConfig = join(dataDir, 'log4j2.properties');
  writeFileSync(config, serverProperties({ port, controllerPort, logDir }) + (ssl ? sslProperties(port, controllerPort, ssl) : ''), { mode: 0o600 });
  writeFileSync(log4jConfig, LOG4J2_PROPERTIES);
  const classpath = join(libsDir, '*'); // the JVM expands the wildcard itself
  const jvmArgs = [...HEAP.split(/\s+/).filter(Boolean), '-XX:+UseG1GC', '-Djava.awt.headless=true', `-Dlog4j2.configurationFile=${log4jConfig}`, '-cp', classpath];

  if (!existsSync(join(logDir, 'meta.properties'))) {
    // Kafka cluster ids are 16 random bytes, base64url without padding. The id
    // is passed as --cluster-id=<id>: an id starting with "-" would otherwise be
    // read as an option.
    const clusterId = randomBytes(16).toString('base64url');
    log(`formatting KRaft storage in ${logDir} (cluster ${clusterId})`);
    const format = spawnSync(java, [...jvmArgs, 'kafka.tools.StorageTool', 'format', `--cluster-id=${clusterId}`, '--config', config], {
      encoding: 'utf8',
      timeout: FORMAT_TIMEOUT_MS,
    });
    if (format.status !== 0) {
      throw new Error(`kafka storage format failed (exit ${format.status ?? format.signal}):\n${tail(`${format.stdout}\n${format.stderr}`)}`);
    }
  }

  // The broker writes straight to a file, never through a pipe to this process:
  // `npm test` blocks its event loop in spawnSync(vitest), and a full pipe would
  // stall the broker's logging threads and with them every request.
  const outPath = join(dataDir, 'kafka.out.log');
  // Detached (a terminal's Ctrl-C reaches only the launcher, which stops the
  // broker last) and killed by the kernel if the launcher dies (process.mjs).
  const child = spawnManaged({ name: 'kafka', command: java, args: [...jvmArgs, 'kafka.Kafka', config], logPath: outPath });
  const exitedWith = () => (child.running ? undefined : (child.child.exitCode ?? child.child.signalCode ?? 'spawn error'));
  // Safety net where there is no parent-death signal: never leave a JVM behind if this process exits without stop().
  const killOnExit = () => child.signal('SIGKILL', { group: true });
  process.once('exit', killOnExit);

  const stop = async (graceMs = STOP_GRACE_MS) => {
    process.removeListener('exit', killOnExit);
    await child.stop({ signal: 'SIGTERM', graceMs });
  };

  const brokers = `127.0.0.1:${port}`;
  try {
    log(`starting Kafka ${KAFKA_VERSION} (KRaft, broker+controller) on ${brokers}, output in ${outPath}`);
    await waitForTcp({ host: '127.0.0.1', port }, START_TIMEOUT_MS, exitedWith);
    await waitForBrokerMetadata(brokers, START_TIMEOUT_MS, exitedWith);
  } catch (error) {
    await stop();
    throw new Error(`${error.message}\nlast broker output (${outPath}):\n${tail(readFileSync(outPath, 'utf8'), 40)}`);
  }
  return { brokers, stop, external: false, pid: child.pid, exited: child.exited };
}

/**
 * Creates the topics that do not exist yet; safe to call concurrently and repeatedly.
 * @param {string} brokers comma-separated host:port list
 * @param {{ name: string, partitions: number, replicas?: number }[]} topics
 */
export async function ensureTopics(brokers, topics) {
  topics ??= await defaultTopics();
  const { Admin } = await import('@platformatic/kafka');
  const admin = new Admin({ clientId: 'wallet-infra', bootstrapBrokers: brokers.split(','), timeout: 10_000, retries: 5 });
  try {
    const existing = new Set(await admin.listTopics());
    for (const topic of topics) {
      if (existing.has(topic.name)) continue;
      try {
        // replicas -1: the broker's default.replication.factor (1 locally, more on a real cluster).
        await admin.createTopics({ topics: [topic.name], partitions: topic.partitions, replicas: topic.replicas ?? -1 });
      } catch (error) {
        if (!isTopicExists(error)) throw error;
      }
    }
  } finally {
    await admin.close();
  }
}

function isTopicExists(error) {
  const text = JSON.stringify(error, Object.getOwnPropertyNames(error ?? {})) + String(error?.cause?.message ?? '');
  return /TOPIC_ALREADY_EXISTS|already exists/i.test(text) || (Array.isArray(error?.errors) && error.errors.some(isTopicExists));
}

/** Downloads (first run) or reuses (later runs) the broker jars; returns the libs folder. */
export async function resolveKafkaLibs({ cacheDir = join(root, '.cache', 'kafka'), log = () => {} } = {}) {
  const versionDir = join(cacheDir, KAFKA_VERSION);
  const libsDir = join(versionDir, 'libs');
  const marker = join(versionDir, '.complete');
  if (existsSync(marker) && existsSync(libsDir)) return libsDir;
  mkdirSync(versionDir, { recursive: true });
  const pom = join(versionDir, 'pom.xml');
  writeFileSync(pom, kafkaPom());
  // Resolve into a private folder, then rename: a concurrent or interrupted run
  // never sees (or leaves) a half-filled libs folder.
  const staging = join(versionDir, `libs.tmp-${process.pid}-${randomBytes(3).toString('hex')}`);
  log(`resolving Kafka ${KAFKA_VERSION} jars with Maven into ${libsDir} (first run only)`);
  const mvn = process.platform === 'win32' ? 'mvn.cmd' : 'mvn';
  const result = spawnSync(
    mvn,
    ['-B', '-q', '-f', pom, 'dependency:copy-dependencies', `-DoutputDirectory=${staging}`, '-DincludeScope=runtime'],
    { encoding: 'utf8', timeout: MAVEN_TIMEOUT_MS, shell: process.platform === 'win32' },
  );
  if (result.error?.code === 'ENOENT') {
    throw new Error('Maven (mvn) is not installed: it is needed once to fetch the Kafka broker jars. Install Maven (and a JDK 17+), or set KAFKA_BROKERS to an existing cluster.');
  }
  if (result.status !== 0) {
    rmSync(staging, { recursive: true, force: true });
    throw new Error(`Maven could not resolve Kafka ${KAFKA_VERSION} (exit ${result.status ?? result.signal}):\n${tail(`${result.stdout}\n${result.stderr}`)}`);
  }
  const jars = readdirSync(staging).filter((f) => f.endsWith('.jar'));
  if (!jars.some((f) => f.startsWith(`kafka_${SCALA_VERSION}-${KAFKA_VERSION}`))) {
    rmSync(staging, { recursive: true, force: true });
    throw new Error(`Maven finished but kafka_${SCALA_VERSION}-${KAFKA_VERSION}.jar is missing in ${staging}`);
  }
  if (existsSync(marker) && existsSync(libsDir)) {
    rmSync(staging, { recursive: true, force: true }); // another run won the race
    return libsDir;
  }
  rmSync(libsDir, { recursive: true, force: true });
  renameSync(staging, libsDir);
  writeFileSync(marker, `${jars.length} jars\n`);
  return libsDir;
}

function kafkaPom() {
  return `<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by scripts/lib/kafka.mjs: the runtime classpath of a Kafka broker. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.wallet</groupId>
  <artifactId>kafka-broker-runtime</artifactId>
  <version>${KAFKA_VERSION}</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_${SCALA_VERSION}</artifactId>
      <version>${KAFKA_VERSION}</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>${LOG4J_SLF4J_VERSION}</version>
    </dependency>
  </dependencies>
</project>
`;
}

/**
 * Overrides (later keys win in a properties file) adding an SSL listener with inline PEM stores
 * and, with saslPort, a SASL_SSL listener (PLAIN, users from saslPlainUsers, no client certificate).
 */
function sslProperties(port, controllerPort, { port: sslPort, certPem, keyPem, caPem, clientAuth = 'required', saslPort, saslPlainUsers = {} }) {
  const pem = (text) => text.trim().replace(/\r?\n/g, '\\n'); // one line: \n is a newline escape in .properties
  const sasl = saslPort === undefined ? null : `SASL_SSL://127.0.0.1:${saslPort}`;
  const users = Object.entries(saslPlainUsers).map(([user, password]) => `user_${user}="${password}"`).join(' ');
  return `# SSL listener (ensureKafka ssl option)
listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort},SSL://127.0.0.1:${sslPort}${sasl ? `,${sasl}` : ''}
advertised.listeners=PLAINTEXT://127.0.0.1:${port},SSL://127.0.0.1:${sslPort}${sasl ? `,${sasl}` : ''}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL
ssl.client.auth=${clientAuth}
ssl.keystore.type=PEM
ssl.keystore.certificate.chain=${pem(certPem)}
ssl.keystore.key=${pem(keyPem)}
ssl.truststore.type=PEM
ssl.truststore.certificates=${pem(caPem)}
${sasl ? `listener.name.sasl_ssl.ssl.client.auth=none
listener.name.sasl_ssl.sasl.enabled.mechanisms=PLAIN
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required ${users};
` : ''}`;
}

function serverProperties({ port, controllerPort, logDir }) {
  return `# Generated by scripts/lib/kafka.mjs: single-node KRaft (combined broker + controller), loopback only.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:${controllerPort}
listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}
advertised.listeners=PLAINTEXT://127.0.0.1:${port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=${logDir.replace(/\\/g, '/')}
num.partitions=3
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# Topics are created by the project (ensureTopics), never by a typo in a client.
auto.create.topics.enable=false
log.retention.hours=168
log.segment.bytes=67108864
`;
}

const LOG4J2_PROPERTIES = `status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.state.name = state.change.logger
logger.state.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
`;

function findJava() {
  const candidate = process.env.JAVA_HOME ? join(process.env.JAVA_HOME, 'bin', process.platform === 'win32' ? 'java.exe' : 'java') : 'java';
  const probe = spawnSync(candidate, ['-version'], { encoding: 'utf8', timeout: 30_000 });
  if (probe.error) {
    throw new Error(`Java not found (${candidate}): a JDK/JRE 17+ runs the local Kafka broker. Install one, or set KAFKA_BROKERS.`);
  }
  const match = /version "(\d+)(?:\.(\d+))?/.exec(`${probe.stderr}${probe.stdout}`);
  const major = match ? Number(match[1] === '1' ? match[2] : match[1]) : 0;
  if (major < 17) throw new Error(`Kafka ${KAFKA_VERSION} needs Java 17+, found ${match?.[0] ?? 'unknown version'}`);
  return candidate;
}

export function parseBrokers(brokers) {
  return brokers.split(',').map((entry) => {
    const trimmed = entry.trim();
    const at = trimmed.lastIndexOf(':');
    return { host: trimmed.slice(0, at), port: Number(trimmed.slice(at + 1)) };
  });
}

async function waitForTcp({ host, port }, timeoutMs, exitedWith) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exitedWith?.() !== undefined) throw new Error(`Kafka exited (${exitedWith()}) before listening on ${port}`);
    const ok = await new Promise((resolve) => {
      const socket = connect({ host, port });
      socket.setTimeout(1000);
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('timeout', () => {
        socket.destroy();
        resolve(false);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`Kafka at ${host}:${port} not reachable within ${timeoutMs} ms`);
    await sleep(200);
  }
}

/** A listening socket is not yet a working broker: wait until it serves metadata and groups. */
async function waitForBrokerMetadata(brokers, timeoutMs, exitedWith) {
  const { Admin } = await import('@platformatic/kafka');
  const deadline = Date.now() + timeoutMs;
  let lastError;
  while (Date.now() < deadline) {
    if (exitedWith() !== undefined) throw new Error(`Kafka exited (${exitedWith()}) while starting`);
    const admin = new Admin({ clientId: 'wallet-infra-probe', bootstrapBrokers: [brokers], timeout: 2000, retries: 0 });
    try {
      const metadata = await admin.metadata({ topics: [] });
      // Also wait for the group coordinator: asking for one creates the offsets
      // topic, so the first consumer group does not start with NOT_COORDINATOR.
      if (metadata.brokers.size > 0) {
        await admin.findCoordinator({ keyType: 0, keys: ['wallet-infra-probe'] });
        return;
      }
    } catch (error) {
      lastError = error;
    } finally {
      await admin.close().catch(() => {});
    }
    await sleep(250);
  }
  throw new Error(`Kafka at ${brokers} did not serve metadata within ${timeoutMs} ms: ${lastError?.message ?? 'no brokers'}`);
}

function tail(text, lines = 30) {
  return text.split('\n').filter(Boolean).slice(-lines).join('\n');
}
