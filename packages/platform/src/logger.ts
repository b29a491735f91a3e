import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { activeTraceIds } from './tracing/propagation.js';

export type { Logger } from 'pino';

/**
 * Paths never written to logs. Card data, secrets and tokens are censored
 * wherever they appear in a logged object.
 */
export const REDACTED_PATHS = [
  'card.number',
  'card.cvc',
  '*.card.number',
  '*.card.cvc',
  'number',
  'cvc',
  'password',
  '*.password',
  'token',
  '*.token',
  'authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'databaseUrl',
  'DATABASE_URL',
];

type Mixin = NonNullable<LoggerOptions['mixin']>;

/**
 * Marks a logger (and, through pino's prototype chain, its children) whose
 * bindings already hold trace_id/span_id, so the mixin does not add them twice.
 */
export const TRACE_IDS_BOUND = Symbol.for('wallet.logger.traceIdsBound');

/** A child logger carrying the given span's ids: for lines written outside that span's context (Fastify hooks). */
export function loggerWithTraceIds<L extends { child(bindings: Record<string, unknown>): unknown }>(
  logger: L,
  ids: { traceId: string; spanId: string },
): L {
  const child = logger.child({ trace_id: ids.traceId, span_id: ids.spanId }) as L;
  Object.defineProperty(child, TRACE_IDS_BOUND, { value: true });
  return child;
}

function idsFor(logger: unknown): ReturnType<typeof activeTraceIds> {
  return (logger as Record<symbol, unknown> | undefined)?.[TRACE_IDS_BOUND] ? {} : activeTraceIds();
}

/** trace_id/span_id of the active span on every line (so logs of all services join by trace), then the caller's mixin. */
function traceMixin(own: Mixin | undefined): Mixin {
  if (!own) return (_mergeObject, _level, logger) => idsFor(logger);
  return (mergeObject, level, logger) => ({ ...idsFor(logger), ...own(mergeObject, level, logger) });
}

/** JSON logger, one line per event, secrets censored, trace ids of the active span. */
export function createLogger(
  service: string,
  level = 'info',
  options: LoggerOptions = {},
  destination?: DestinationStream,
): Logger {
  const settings: LoggerOptions = {
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    formatters: { level: (label) => ({ level: label }) },
    ...options,
    mixin: traceMixin(options.mixin),
  };
  return destination ? pino(settings, destination) : pino(settings);
}

/** Masks a card number (or any secret digits) to its last four: "************4242". */
export function maskLast4(value: string): string {
  const digits = value.replace(/\D/g, '');
  return digits.length <= 4 ? '****' : `${'*'.repeat(digits.length - 4)}${digits.slice(-4)}`;
}

/** Hides the password of a connection URL before it is logged. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '****';
    return parsed.toString();
  } catch {
    return '[unparseable url]';
  }
}
