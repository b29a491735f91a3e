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

type TraceIdFields = { trace_id: string; span_id: string };

/** Loggers (a request's own, made by Fastify) whose lines get these ids: see bindTraceIds. */
const boundTraceIds = new WeakMap<object, TraceIdFields>();
/** The mixins createLogger installs, to tell whether a logger reads boundTraceIds. */
const traceMixins = new WeakSet<Mixin>();

/**
 * True when the logger's lines get their trace ids from createLogger's mixin,
 * so bindTraceIds works on it (a pino logger made elsewhere: use loggerWithTraceIds).
 */
export function readsBoundTraceIds(logger: object): boolean {
  const mixin = (logger as Record<symbol, unknown>)[pino.symbols.mixinSym];
  return typeof mixin === 'function' && traceMixins.has(mixin as Mixin);
}

/**
 * The span's ids on every line of this logger object (not its children, which
 * fall back to the active span), without making a child logger: a pino child
 * per request cost ~1.5 % of the gateway's CPU per transfer (issue 14).
 */
export function bindTraceIds(logger: object, ids: { traceId: string; spanId: string }): void {
  boundTraceIds.set(logger, { trace_id: ids.traceId, span_id: ids.spanId });
}

function idsFor(logger: unknown): ReturnType<typeof activeTraceIds> {
  if (typeof logger !== 'object' || logger === null) return activeTraceIds();
  const bound = boundTraceIds.get(logger);
  if (bound !== undefined) return bound;
  return (logger as Record<symbol, unknown>)[TRACE_IDS_BOUND] ? {} : activeTraceIds();
}

/** trace_id/span_id of the active span on every line (so logs of all services join by trace), then the caller's mixin. */
function traceMixin(own: Mixin | undefined): Mixin {
  const mixin: Mixin = own
    ? (mergeObject, level, logger) => ({ ...idsFor(logger), ...own(mergeObject, level, logger) })
    : (_mergeObject, _level, logger) => idsFor(logger);
  traceMixins.add(mixin);
  return mixin;
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
