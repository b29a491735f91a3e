// Types for scripts/lib/kafka.mjs, so TypeScript tests can start a private broker.
export declare const KAFKA_VERSION: string;
export declare function ensureKafka(options: {
  dataDir: string;
  port: number;
  controllerPort: number;
  log?: (line: string) => void;
  cacheDir?: string;
  useEnv?: boolean;
}): Promise<{ brokers: string; stop: () => Promise<void>; external: boolean }>;
export declare function ensureTopics(brokers: string, topics?: { name: string; partitions: number }[]): Promise<void>;
