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
  holdEventSchema: join(contractsDir, 'analytics-service-kafka-spec', 'schemas', 'hold_event.json'),
  reversalEventSchema: join(contractsDir, 'analytics-service-kafka-spec', 'schemas', 'reversal_event.json'),
  refundEventSchema: join(contractsDir, 'analytics-service-kafka-spec', 'schemas', 'refund_event.json'),
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

/** Issue #15: a hold changed state; emitted for the sender (direction "out") and the recipient ("in"). */
export interface HoldEvent {
  eventId: string;
  eventType: 'hold_created' | 'hold_captured' | 'hold_voided' | 'hold_expired';
  schemaVersion: 1;
  occurredAt: string;
  accountId: string;
  counterpartyAccountId: string;
  direction: 'out' | 'in';
  holdId: string;
  /** created: the amount held; captured: the amount posted; voided/expired: the amount released. */
  amount: string;
  currency: string;
  /** hold_captured: the transfer that posted it (its transfer_out/transfer_in events follow). */
  transferId?: string;
  /** hold_created: when it expires by itself. */
  expiresAt?: string;
  description?: string;
  initiatedBy?: string;
}

/** Issue #15: part or all of a transfer moved back: reversal_out keyed by the original recipient, reversal_in by the original sender. */
export interface ReversalEvent {
  eventId: string;
  eventType: 'reversal_out' | 'reversal_in';
  schemaVersion: 1;
  occurredAt: string;
  accountId: string;
  counterpartyAccountId: string;
  reversalId: string;
  originalTransferId: string;
  amount: string;
  currency: string;
  reason: string;
  /** An admin forced it past the recipient's available balance. */
  forced: boolean;
  initiatedBy?: string;
}

/** Issue #15: a top-up refunded to the card (refund: wallet debited) or that refund cancelled (refund_cancelled: credited back). */
export interface RefundEvent {
  eventId: string;
  eventType: 'refund' | 'refund_cancelled';
  schemaVersion: 1;
  occurredAt: string;
  accountId: string;
  refundId: string;
  topUpId: string;
  depositId: string;
  amount: string;
  currency: string;
  initiatedBy?: string;
}

export type OperationEvent = TransferEvent | TopUpEvent | HoldEvent | ReversalEvent | RefundEvent;
