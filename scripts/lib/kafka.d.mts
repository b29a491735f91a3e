// Types for scripts/lib/kafka.mjs, so TypeScript tests can start a private broker.
export declare const KAFKA_VERSION: string;
export declare function ensureKafka(options: {
  dataDir: string;
  port: number;
  controllerPort: number;
  log?: (line: string) => void;
  cacheDir?: string;
  useEnv?: boolean;
  /**
   * An extra SSL listener on 127.0.0.1:port with these PEM texts (broker certificate, its key, the CA for
   * clients) and, with saslPort, a SASL_SSL listener (PLAIN; user -> password; no client certificate).
   */
  ssl?: {
    port: number;
    certPem: string;
    keyPem: string;
    caPem: string;
    clientAuth?: 'required' | 'requested' | 'none';
    saslPort?: number;
    saslPlainUsers?: Record<string, string>;
  };
}): Promise<{
  brokers: string;
  /** SIGTERM (controlled shutdown), SIGKILL after graceMs (default 8 s). */
  stop: (graceMs?: number) => Promise<void>;
  external: boolean;
  /** The broker's pid when this call started it. */
  pid?: number;
  exited?: Promise<number | string | null>;
}>;
export declare function defaultTopics(partitions?: number): Promise<{ name: string; partitions: number }[]>;
export declare function ensureTopics(brokers: string, topics?: { name: string; partitions: number }[]): Promise<void>;
