import { TopUpStatus, type ProcessCardTopUpRequest, type ProcessCardTopUpResponse } from '@wallet/contracts/card-adapter';
import { canonicalUuid, fromMoney, toIsoTimestamp, toMoney, UnexpectedUpstreamResponseError } from './common.js';
import { chargedFromMetadata, PROBLEMS_BY_REASON, ProblemError } from './problems.js';

/** Body of POST /accounts/{accountId}/topup (already validated against TopUpRequest). */
export interface TopUpRequestBody {
  amount: string;
  card: {
    number: string;
    expiryMonth: number;
    expiryYear: number;
    cvc: string;
    holderName?: string;
  };
}

/** The TopUp schema of openapi.yaml. */
export interface TopUpResource {
  id: string;
  accountId: string;
  amount: string;
  currency: string;
  status: 'completed';
  cardLast4: string;
  cardBrand?: string;
  createdAt: string;
}

export function toProcessCardTopUpRequest(
  accountId: string,
  body: TopUpRequestBody,
  idempotencyKey: string,
  currencyCode: string,
): ProcessCardTopUpRequest {
  return {
    accountId: canonicalUuid(accountId),
    amount: toMoney(body.amount, currencyCode),
    card: {
      // The contract allows spaces for readability ("4242 4242 ..."); the adapter gets digits.
      number: body.card.number.replace(/ /g, ''),
      expiryMonth: body.card.expiryMonth,
      expiryYear: body.card.expiryYear,
      cvc: body.card.cvc,
      holderName: body.card.holderName ?? '',
    },
    idempotencyKey,
  };
}

/**
 * A successful call carries a completed top-up. The adapter reports failures
 * as gRPC errors, but should a non-final or failed status ever come back in a
 * response, it is answered as the matching failure, never as a 201.
 */
export function fromProcessCardTopUpResponse(response: ProcessCardTopUpResponse): { topUp: TopUpResource; replayed: boolean } {
  const t = response.topUp;
  if (!t) throw new UnexpectedUpstreamResponseError('ProcessCardTopUp: top_up missing');
  switch (t.status) {
    case TopUpStatus.TOP_UP_STATUS_COMPLETED:
      break;
    case TopUpStatus.TOP_UP_STATUS_PENDING: {
      // Only what the adapter knows: a pending top-up may not have charged the card (yet).
      const charged = chargedFromMetadata(t.charged, 503);
      throw new ProblemError(PROBLEMS_BY_REASON.TOP_UP_PENDING!, '', charged === undefined ? {} : { charged });
    }
    case TopUpStatus.TOP_UP_STATUS_DECLINED:
      throw new ProblemError(PROBLEMS_BY_REASON.CARD_DECLINED!, 'The card was declined.', { charged: false });
    case TopUpStatus.TOP_UP_STATUS_REFUNDED:
      throw new ProblemError(PROBLEMS_BY_REASON.DEPOSIT_FAILED_REFUNDED!, '', { charged: false });
    case TopUpStatus.TOP_UP_STATUS_REFUND_FAILED:
      throw new ProblemError(PROBLEMS_BY_REASON.REFUND_FAILED!, '', { charged: true });
    case TopUpStatus.TOP_UP_STATUS_FAILED:
      throw new ProblemError(PROBLEMS_BY_REASON.PAYMENT_GATEWAY_ERROR!, 'The charge failed; nothing was charged.', { charged: false });
    default:
      throw new UnexpectedUpstreamResponseError(`ProcessCardTopUp: unexpected status ${t.status}`);
  }
  const { amount, currency } = fromMoney(t.amount, 'ProcessCardTopUp');
  const topUp: TopUpResource = {
    id: t.id,
    accountId: t.accountId,
    amount,
    currency,
    status: 'completed',
    cardLast4: t.cardLast4,
    createdAt: toIsoTimestamp(t.createdAt, 'ProcessCardTopUp'),
  };
  if (t.cardBrand) topUp.cardBrand = t.cardBrand;
  return { topUp, replayed: response.replayed };
}
