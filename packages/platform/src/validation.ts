/**
 * One invalid field of a request: the field's path (`amount.amountMinor`,
 * `card.number`) and a sentence saying what is wrong. The same shape travels
 * as a google.rpc.BadRequest field violation over gRPC and as an `errors[]`
 * entry of a problem+json answer, so every layer uses this one type.
 */
export interface FieldViolation {
  field: string;
  description: string;
}
