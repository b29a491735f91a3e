// The bank's GetAccountOwners, with the owners kept in memory: an account's
// owner never changes, so a cached owner is never stale. Bounded (LRU).
// Unknown accounts are not cached (one may be opened later).
import { BankServiceClient } from '@wallet/contracts/bank';
import { callUnary, createGrpcClient, type GrpcTransport } from '@wallet/platform';
import type { Registry } from 'prom-client';

/** Ids per GetAccountOwners call (the bank's bound). */
export const OWNER_IDS_PER_CALL_MAX = 1_000;

export interface OwnerDirectory {
  /** account id -> owner id for the accounts that have one; throws when the bank cannot answer. */
  owners(accountIds: readonly string[]): Promise<Map<string, string>>;
  close(): void;
}

export class CachedOwnerDirectory implements OwnerDirectory {
  private readonly cache = new Map<string, string>();

  constructor(
    private readonly fetch: (accountIds: string[]) => Promise<Map<string, string>>,
    private readonly sizeMax: number,
    private readonly onClose: () => void = () => {},
  ) {}

  async owners(accountIds: readonly string[]): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    const misses: string[] = [];
    for (const id of new Set(accountIds)) {
      const owner = this.cache.get(id);
      if (owner === undefined) misses.push(id);
      else {
        // Refresh its place in the LRU.
        this.cache.delete(id);
        this.cache.set(id, owner);
        found.set(id, owner);
      }
    }
    for (let start = 0; start < misses.length; start += OWNER_IDS_PER_CALL_MAX) {
      const answered = await this.fetch(misses.slice(start, start + OWNER_IDS_PER_CALL_MAX));
      for (const [id, owner] of answered) {
        found.set(id, owner);
        this.remember(id, owner);
      }
    }
    return found;
  }

  private remember(id: string, owner: string): void {
    this.cache.set(id, owner);
    if (this.cache.size > this.sizeMax) this.cache.delete(this.cache.keys().next().value as string);
  }

  close(): void {
    this.onClose();
  }
}

/** The directory over gRPC (mutual TLS: this service's certificate is in the bank's caller table). */
export function grpcOwnerDirectory(target: string, timeoutMs: number, transport: GrpcTransport, registry: Registry, sizeMax: number): OwnerDirectory {
  const client = createGrpcClient(BankServiceClient, target, transport, { registry });
  const fetch = async (accountIds: string[]) => {
    const response = await callUnary(client, client.getAccountOwners, { accountIds }, { timeoutMs });
    return new Map(Object.entries(response.owners));
  };
  return new CachedOwnerDirectory(fetch, sizeMax, () => client.close());
}
