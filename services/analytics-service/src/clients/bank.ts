// The analytics-service's one call to the bank: GetLedgerTotals for the history
// cross-check (ADR 0021), over mutual TLS as analytics-service (the bank's
// caller table allows only this service), with a deadline on every call.
import { BankServiceClient, type GetLedgerTotalsRequest, type GetLedgerTotalsResponse } from '@wallet/contracts/bank';
import { callUnary, createGrpcClient, type GrpcTransport } from '@wallet/platform';
import type { AccountNet } from '../domain/cross-check.js';

export interface LedgerTotalsPage {
  totals: AccountNet[];
  /** Empty when no accounts follow. */
  nextAfterAccountId: string;
}

export interface LedgerTotalsSource {
  ledgerTotals(afterAccountId: string, limit: number, upTo: Date): Promise<LedgerTotalsPage>;
  close(): void;
}

export class GrpcLedgerTotals implements LedgerTotalsSource {
  private readonly client: BankServiceClient;

  constructor(
    target: string,
    private readonly timeoutMs: number,
    transport: GrpcTransport,
  ) {
    this.client = createGrpcClient(BankServiceClient, target, transport);
  }

  async ledgerTotals(afterAccountId: string, limit: number, upTo: Date): Promise<LedgerTotalsPage> {
    const response = await callUnary<GetLedgerTotalsRequest, GetLedgerTotalsResponse>(
      this.client,
      this.client.getLedgerTotals,
      { afterAccountId, limit, upTo },
      { timeoutMs: this.timeoutMs },
    );
    return {
      totals: response.totals.map((t) => ({ accountId: t.accountId.toLowerCase(), netMinor: t.netMinor })),
      nextAfterAccountId: response.nextAfterAccountId,
    };
  }

  close(): void {
    this.client.close();
  }
}
