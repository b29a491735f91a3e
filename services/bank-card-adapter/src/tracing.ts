// The top-up saga's spans: names and attribute keys in one place (traces,
// dashboards and tests use them). Attributes carry ids, states and outcomes
// only: never the card number, CVC, fingerprint, tokens or the API key.

import { contextFromTraceparent, trace, type Link } from '@wallet/platform/tracing';
import type { TopUpRecord, TopUpState } from './domain/top-up.js';

export const SPAN = {
  /** The request path (ProcessCardTopUp), child of the gRPC SERVER span. */
  process: 'top_up.process',
  charge: 'top_up.charge',
  deposit: 'top_up.deposit',
  refund: 'top_up.refund',
  /** One per top-up taken over by the recovery loop, child of its pass. */
  recover: 'top_up.recover',
  /** A root span per recovery pass. */
  recoveryPass: 'top_up.recovery_pass',
  /** One per failed top-up checked at the gateway by the reconciliation pass. */
  reconcile: 'top_up.reconcile',
} as const;

export const ATTR = {
  id: 'top_up.id',
  stateFrom: 'top_up.state.from',
  stateTo: 'top_up.state.to',
  /** completed, or the failure reason in lower case (card_declined, top_up_pending, ...). */
  outcome: 'top_up.outcome',
  replayed: 'top_up.replayed',
  /** Whether the card is left charged: true, false, unknown. */
  charged: 'top_up.charged',
  /** The step ran without the card (recovery or reconciliation): it can only look up or compensate. */
  withoutCard: 'top_up.without_card',
  /** What a step ended in: advanced (a later state), pending (waits; recovery continues), unchanged. */
  stepResult: 'top_up.step.result',
  recoveryAction: 'top_up.recovery.action',
  recoveryHandled: 'top_up.recovery.handled',
  reconciliationChecked: 'top_up.reconciliation.checked',
  reconciliationAction: 'top_up.reconciliation.action',
} as const;

/** The span of the step that a top-up in `state` runs next, or null when no step runs. */
export function stepSpanName(state: TopUpState): string | null {
  switch (state) {
    case 'RECEIVED':
    case 'CHARGING':
      return SPAN.charge;
    case 'CHARGED':
      return SPAN.deposit;
    case 'REFUNDING':
      return SPAN.refund;
    default:
      return null;
  }
}

/** Marks a state change on the active span (the step's), as an event: one step may pass several states. */
export function noteTransition(from: TopUpState | null, to: TopUpState): void {
  trace.getActiveSpan()?.addEvent('top_up.transition', { [ATTR.stateFrom]: from ?? 'none', [ATTR.stateTo]: to });
}

/** Names the top-up on the active span once it is known (journaled or found by its key). */
export function noteTopUp(id: string): void {
  trace.getActiveSpan()?.setAttribute(ATTR.id, id);
}

/**
 * A link to the request that journaled the top-up (its stored traceparent):
 * recovery and reconciliation run in their own traces, and this leads from
 * them to the request, and back in a trace viewer.
 */
export function requestLinks(record: TopUpRecord): Link[] {
  const spanContext = trace.getSpanContext(contextFromTraceparent(record.traceContext));
  return spanContext ? [{ context: spanContext, attributes: { 'top_up.link': 'journaling_request' } }] : [];
}
