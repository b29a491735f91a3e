// Entry point of the contracts package: generated protobuf code lives under
// ./gen (subpath exports "./bank", "./card-adapter", "./analytics", "./rpc"),
// and the language-neutral contracts stay in services/common, located here.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

function findCommonDir(): string {
  // Works from src/ (tests), dist/ (built) and inside a container image, where
  // services/common is copied next to packages/ exactly as in the repository.
  const override = process.env.WALLET_CONTRACTS_DIR;
  if (override) return resolve(override);
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 6; depth += 1) {
    const candidate = join(dir, 'services', 'common');
    if (existsSync(join(candidate, 'wallet-api', 'openapi.yaml'))) return candidate;
    dir = dirname(dir);
  }
  throw new Error('services/common (the contracts) not found; set WALLET_CONTRACTS_DIR');
}

/** Absolute path of services/common. */
export const contractsDir: string = findCommonDir();

export const contractPaths = {
  openapi: join(contractsDir, 'wallet-api', 'openapi.yaml'),
  asyncapi: join(contractsDir, 'analytics-service-kafka-spec', 'asyncapi.yaml'),
  transferEventSchema: join(contractsDir, 'analytics-service-kafka-spec', 'schemas', 'transfer_event.json'),
  topUpEventSchema: join(contractsDir, 'analytics-service-kafka-spec', 'schemas', 'topup_event.json'),
} as const;

/** Kafka topic of all money movements (asyncapi.yaml, channel walletOperations). */
export const OPERATIONS_TOPIC = 'wallet.operations';
/** Dead-letter topic for events the analytics-service rejects. */
export const OPERATIONS_DLQ_TOPIC = 'wallet.operations.dlq';

/** Shape of the events on wallet.operations (the JSON Schemas are the source of truth). */
export interface TransferEvent {
  eventId: string;
  eventType: 'transfer_in' | 'transfer_out';
  schemaVersion: 1;
  occurredAt: string;
  accountId: string;
  counterpartyAccountId: string;
  transferId: string;
  amount: string;
  currency: string;
  description?: string;
  /** Subject of the verified caller who made it; absent in events written before identity existed. */
  initiatedBy?: string;
}

export interface TopUpEvent {
  eventId: string;
  eventType: 'topup';
  schemaVersion: 1;
  occurredAt: string;
  accountId: string;
  topUpId: string;
  depositId: string;
  amount: string;
  currency: string;
  cardLast4: string;
  cardBrand?: string;
  /** Subject of the user who asked for the top-up; absent in events written before identity existed. */
  initiatedBy?: string;
}

export type OperationEvent = TransferEvent | TopUpEvent;
