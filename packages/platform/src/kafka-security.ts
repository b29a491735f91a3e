// Kafka connection security shared by every Kafka client (bank outbox
// producer, analytics consumer): TLS (server verified against a CA, optional
// client certificate) and SASL. The result is the `tls` / `sasl` part of the
// @platformatic/kafka client options, typed structurally so this package does
// not depend on the Kafka client.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import { inspect } from 'node:util';
import { z } from 'zod';
import { ConfigError, env } from './config.js';
import type { SecretSpecs } from './secrets.js';

/** SASL mechanisms a password can drive (OAUTHBEARER / GSSAPI need more than a password). */
export const KAFKA_SASL_MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;
export type KafkaSaslMechanism = (typeof KAFKA_SASL_MECHANISMS)[number];

/** A CA bundle, certificate or key is a few kilobytes; refuse a large file read by mistake. */
export const KAFKA_TLS_FILE_BYTES_MAX = 1024 * 1024;

/**
 * The Kafka security variables (shared, unprefixed, like KAFKA_BROKERS).
 * Spread into the service's config schema; resolve KAFKA_SASL_PASSWORD with
 * `kafkaSecretSpecs` in loadConfigWithSecrets (it may come from KAFKA_SASL_PASSWORD_FILE).
 */
export const kafkaSecurityShape = {
  /** Connect to the brokers over TLS (their SSL or SASL_SSL listener); the server certificate is always verified. */
  KAFKA_TLS: env.bool(false),
  /** PEM bundle the brokers' certificates are checked against; unset = the system's public CAs (managed Kafka). */
  KAFKA_TLS_CA_FILE: env.optionalString(),
  /** Client certificate (PEM) for brokers that require one (ssl.client.auth=required); with KAFKA_TLS_KEY_FILE. */
  KAFKA_TLS_CERT_FILE: env.optionalString(),
  KAFKA_TLS_KEY_FILE: env.optionalString(),
  /** SASL authentication; unset = none. PLAIN is accepted only over TLS (it sends the password as is). */
  KAFKA_SASL_MECHANISM: z.enum(KAFKA_SASL_MECHANISMS).optional(),
  KAFKA_SASL_USERNAME: env.optionalString(),
  /** Secret: give it as KAFKA_SASL_PASSWORD_FILE (required so in production). */
  KAFKA_SASL_PASSWORD: env.optionalString(),
};

export type KafkaSecurityConfig = z.infer<z.ZodObject<typeof kafkaSecurityShape>>;

/** The secrets of kafkaSecurityShape, for loadConfigWithSecrets (optional: no SASL, no password). */
export const kafkaSecretSpecs: SecretSpecs = { KAFKA_SASL_PASSWORD: { required: false } };

export interface KafkaSaslOptions {
  mechanism: KafkaSaslMechanism;
  username: string;
  /** A provider, not the string: the password never sits in an options object that might be logged. */
  password: () => string;
}

/** The security part of @platformatic/kafka client options (Producer, Consumer, Admin): spread it in. */
export interface KafkaConnectionOptions {
  tls?: TlsConnectionOptions;
  /** Send SNI (the broker's host name): proxies and managed clusters route on it. Only for DNS names. */
  tlsServerName?: boolean;
  sasl?: KafkaSaslOptions;
}

function readPem(variable: string, file: string, problems: string[]): Buffer | undefined {
  try {
    const content = readFileSync(file);
    if (content.length > KAFKA_TLS_FILE_BYTES_MAX) problems.push(`${variable}: ${file} is larger than ${KAFKA_TLS_FILE_BYTES_MAX} bytes`);
    else if (!content.includes('-----BEGIN ')) problems.push(`${variable}: ${file} is not a PEM file`);
    else return content;
  } catch (error) {
    problems.push(`${variable}: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`);
  }
  return undefined;
}

/** Hides key material from JSON.stringify / pino and util.inspect (spread, as the client does, drops both hooks). */
function redactKey(options: TlsConnectionOptions): TlsConnectionOptions {
  const shown = () => ({ ...options, ...(options.key === undefined ? {} : { key: '[redacted]' }) });
  Object.defineProperty(options, 'toJSON', { value: shown, enumerable: false });
  Object.defineProperty(options, inspect.custom, { value: () => shown(), enumerable: false });
  return options;
}

function tlsOptions(config: KafkaSecurityConfig, problems: string[]): TlsConnectionOptions | undefined {
  const files = (['KAFKA_TLS_CA_FILE', 'KAFKA_TLS_CERT_FILE', 'KAFKA_TLS_KEY_FILE'] as const).filter((name) => config[name] !== undefined);
  if (!config.KAFKA_TLS) {
    problems.push(...files.map((name) => `${name}: set, but KAFKA_TLS is false (set KAFKA_TLS=true or unset ${name})`));
    return undefined;
  }
  if ((config.KAFKA_TLS_CERT_FILE === undefined) !== (config.KAFKA_TLS_KEY_FILE === undefined)) {
    const missing = config.KAFKA_TLS_CERT_FILE === undefined ? 'KAFKA_TLS_CERT_FILE' : 'KAFKA_TLS_KEY_FILE';
    problems.push(`${missing}: missing (a client certificate needs both KAFKA_TLS_CERT_FILE and KAFKA_TLS_KEY_FILE)`);
    return undefined;
  }
  const options: TlsConnectionOptions = { rejectUnauthorized: true, minVersion: 'TLSv1.2' };
  if (config.KAFKA_TLS_CA_FILE !== undefined) options.ca = readPem('KAFKA_TLS_CA_FILE', config.KAFKA_TLS_CA_FILE, problems);
  if (config.KAFKA_TLS_CERT_FILE !== undefined && config.KAFKA_TLS_KEY_FILE !== undefined) {
    options.cert = readPem('KAFKA_TLS_CERT_FILE', config.KAFKA_TLS_CERT_FILE, problems);
    options.key = readPem('KAFKA_TLS_KEY_FILE', config.KAFKA_TLS_KEY_FILE, problems);
  }
  return redactKey(options);
}

function saslOptions(config: KafkaSecurityConfig, problems: string[]): KafkaSaslOptions | undefined {
  const { KAFKA_SASL_MECHANISM: mechanism, KAFKA_SASL_USERNAME: username, KAFKA_SASL_PASSWORD: password } = config;
  if (mechanism === undefined) {
    if (username !== undefined) problems.push('KAFKA_SASL_USERNAME: set, but KAFKA_SASL_MECHANISM is not');
    if (password !== undefined) problems.push('KAFKA_SASL_PASSWORD: set, but KAFKA_SASL_MECHANISM is not');
    return undefined;
  }
  if (username === undefined) problems.push(`KAFKA_SASL_USERNAME: missing (KAFKA_SASL_MECHANISM is ${mechanism})`);
  if (password === undefined) problems.push(`KAFKA_SASL_PASSWORD: missing; set KAFKA_SASL_PASSWORD_FILE (KAFKA_SASL_MECHANISM is ${mechanism})`);
  if (mechanism === 'PLAIN' && !config.KAFKA_TLS) problems.push('KAFKA_SASL_MECHANISM: PLAIN sends the password as is; it needs KAFKA_TLS=true');
  if (username === undefined || password === undefined) return undefined;
  return { mechanism, username, password: () => password };
}

/**
 * The @platformatic/kafka `tls` / `sasl` options from validated config (empty
 * when neither is configured: plaintext, as the local broker). Reads the PEM
 * files now, so call it inside the service's loadConfig: an unusable setting
 * is a ConfigError naming the variables (exit 2). `brokers` (host:port) turns
 * SNI on when every broker is a DNS name (SNI may not carry an IP address).
 * The files are read once: rotating the Kafka client certificate needs a restart.
 */
export function kafkaConnectionOptions(config: KafkaSecurityConfig, brokers: readonly string[] = []): KafkaConnectionOptions {
  const problems: string[] = [];
  const tls = tlsOptions(config, problems);
  const sasl = saslOptions(config, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  const hosts = brokers.map((broker) => broker.trim().replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1'));
  const sni = tls !== undefined && hosts.length > 0 && hosts.every((host) => host !== '' && isIP(host) === 0);
  return { ...(tls ? { tls } : {}), ...(sni ? { tlsServerName: true } : {}), ...(sasl ? { sasl } : {}) };
}
