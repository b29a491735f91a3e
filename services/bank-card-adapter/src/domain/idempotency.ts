import { isTerminal, type TopUpState } from './top-up.js';

export type ExistingTopUpDecision =
  /** Same key, different request: refuse, change nothing. */
  | { action: 'reject_reused' }
  /** Finished: answer exactly as the first time. */
  | { action: 'replay' }
  /** Another worker owns it right now. */
  | { action: 'in_flight' }
  /** Unfinished and nobody owns it: this request may drive it on. */
  | { action: 'resume' };

/** What to do when a request arrives with an idempotency key the account already used. */
export function decideOnExistingTopUp(input: {
  storedRequestHash: string;
  requestHash: string;
  state: TopUpState;
  leaseHeld: boolean;
}): ExistingTopUpDecision {
  if (input.storedRequestHash !== input.requestHash) return { action: 'reject_reused' };
  if (isTerminal(input.state)) return { action: 'replay' };
  return input.leaseHeld ? { action: 'in_flight' } : { action: 'resume' };
}
