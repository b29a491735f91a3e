// Validates raw Kafka values against the event JSON Schemas (the contract in
// services/common/analytics-service-kafka-spec/schemas). A rejection carries a
// short reason code for metrics/DLQ headers and the schema paths that failed,
// never the payload itself (it could hold anything).
import { readFileSync } from 'node:fs';
import { contractPaths, type OperationEvent } from '@wallet/contracts';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

/** Events are well under 1 KiB; anything this large is not an event. */
export const EVENT_BYTES_MAX = 64 * 1024;

export type RejectionReason = 'empty' | 'too_large' | 'unparsable' | 'unknown_event_type' | 'schema_invalid';

export type ValidationResult =
  | { ok: true; event: OperationEvent }
  | { ok: false; reason: RejectionReason; detail: string };

export interface EventValidator {
  validate(value: Buffer | undefined): ValidationResult;
}

// ajv-formats is CommonJS with a default export; under NodeNext it arrives as the module object.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv2020) => Ajv2020;

/** Where each event kind's JSON Schema lives (tests point these elsewhere). */
export interface EventSchemaPaths {
  transfer: string;
  topUp: string;
  hold: string;
  reversal: string;
  refund: string;
}

const CONTRACT_SCHEMA_PATHS: EventSchemaPaths = {
  transfer: contractPaths.transferEventSchema,
  topUp: contractPaths.topUpEventSchema,
  hold: contractPaths.holdEventSchema,
  reversal: contractPaths.reversalEventSchema,
  refund: contractPaths.refundEventSchema,
};

export function createEventValidator(overrides: Partial<EventSchemaPaths> = {}): EventValidator {
  const paths = { ...CONTRACT_SCHEMA_PATHS, ...overrides };
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  addFormats(ajv);
  const compile = (path: string) => ajv.compile(JSON.parse(readFileSync(path, 'utf8')) as object);
  const transfer = compile(paths.transfer);
  const hold = compile(paths.hold);
  const reversal = compile(paths.reversal);
  const refund = compile(paths.refund);
  const byType: Record<OperationEvent['eventType'], ValidateFunction> = {
    transfer_in: transfer,
    transfer_out: transfer,
    topup: compile(paths.topUp),
    hold_created: hold,
    hold_captured: hold,
    hold_voided: hold,
    hold_expired: hold,
    reversal_out: reversal,
    reversal_in: reversal,
    refund,
    refund_cancelled: refund,
  };

  return {
    validate(value) {
      if (!value || value.length === 0) return { ok: false, reason: 'empty', detail: 'no value' };
      if (value.length > EVENT_BYTES_MAX) return { ok: false, reason: 'too_large', detail: `${value.length} bytes` };
      let parsed: unknown;
      try {
        parsed = JSON.parse(value.toString('utf8'));
      } catch (error) {
        return { ok: false, reason: 'unparsable', detail: (error as Error).message.slice(0, 200) };
      }
      const eventType = typeof parsed === 'object' && parsed !== null ? (parsed as { eventType?: unknown }).eventType : undefined;
      const validateFn = typeof eventType === 'string' && Object.hasOwn(byType, eventType) ? byType[eventType as OperationEvent['eventType']] : undefined;
      if (!validateFn) {
        return { ok: false, reason: 'unknown_event_type', detail: `eventType ${JSON.stringify(eventType)?.slice(0, 40) ?? 'missing'}` };
      }
      if (!validateFn(parsed)) {
        const detail = (validateFn.errors ?? [])
          .slice(0, 5)
          .map((e) => `${e.instancePath || '/'} ${e.message ?? 'invalid'}`)
          .join('; ');
        return { ok: false, reason: 'schema_invalid', detail };
      }
      return { ok: true, event: parsed as OperationEvent };
    },
  };
}
