import type { Logger, LoggerOptions } from 'pino';
import { ConfigError } from './config.js';
import { createLogger } from './logger.js';
import { installShutdown, type ShutdownStep } from './shutdown.js';
import { startTracing, type TracingHandle } from './tracing/start.js';

/** Exit code of a process that refused its configuration (as sysexits' EX_USAGE family, not a crash). */
export const EXIT_CONFIG = 2;
/** Exit code of a process whose start failed (a dependency down, a port taken). */
export const EXIT_START_FAILED = 1;
/** Bound on graceful shutdown when the service does not say otherwise. */
export const SHUTDOWN_TIMEOUT_MS_DEFAULT = 10_000;

/** What a started service hands back: one close, or ordered shutdown steps. */
export type RunningService = (
  | { close(): Promise<void> }
  | { shutdownSteps: ShutdownStep[] }
) & {
  /** Fields logged with the 'started' line (ports, addresses); never secrets. */
  info?: Record<string, unknown>;
};

export interface ServiceDefinition<C> {
  /** Service name: the logger's `service` field and the prefix of a config error. */
  name: string;
  /** Reads and validates the environment; throws (ConfigError or any error) on a bad value. */
  loadConfig: () => C;
  logLevel: (config: C) => string;
  /** Extra pino options (for example more redact paths). */
  loggerOptions?: LoggerOptions;
  /** Bound on graceful shutdown; SHUTDOWN_TIMEOUT_MS_DEFAULT if absent. */
  shutdownTimeoutMs?: (config: C) => number;
  /** Builds adapters and starts servers and loops; rejects if the service cannot start. */
  start: (config: C, logger: Logger) => Promise<RunningService>;
}

/** The one line (or block) a bad configuration prints, the same for every service. */
export function configErrorMessage(name: string, error: unknown): string {
  if (error instanceof ConfigError) return `${name}: ${error.message}`;
  const message = error instanceof Error ? error.message : String(error);
  return `${name}: invalid configuration: ${message}`;
}

function shutdownStepsOf(name: string, running: RunningService): ShutdownStep[] {
  if ('shutdownSteps' in running) return running.shutdownSteps;
  return [{ name, run: () => running.close() }];
}

/**
 * Every service's main.ts: load config (a bad variable, OTEL_* included,
 * prints one message naming it and exits 2), start tracing, create the logger, start, log 'started', and on
 * SIGTERM/SIGINT shut down gracefully within the service's bound (a second
 * signal or the bound forces exit 1). A failed start logs fatal and exits 1.
 * Resolves once started (tests may await it); never rejects.
 */
export async function runService<C>(definition: ServiceDefinition<C>): Promise<void> {
  let config: C;
  let tracing: TracingHandle;
  try {
    config = definition.loadConfig();
    // Before anything makes a span; bad OTEL_* values are config errors (exit 2) too.
    tracing = startTracing(definition.name);
  } catch (error) {
    // No logger yet (its level is config): plain stderr, no stack, as a CLI would.
    process.stderr.write(`${configErrorMessage(definition.name, error)}\n`);
    process.exit(EXIT_CONFIG);
  }
  const logger = createLogger(definition.name, definition.logLevel(config), definition.loggerOptions);
  try {
    const running = await definition.start(config, logger);
    const timeoutMs = definition.shutdownTimeoutMs?.(config) ?? SHUTDOWN_TIMEOUT_MS_DEFAULT;
    // Flush spans last: the service's own steps still make spans while they drain.
    const steps = [...shutdownStepsOf(definition.name, running), { name: 'tracing', run: () => tracing.shutdown() }];
    installShutdown(logger, steps, timeoutMs);
    logger.info({ ...running.info, shutdownTimeoutMs: timeoutMs, tracesExported: tracing.exporting }, 'started');
  } catch (error) {
    logger.fatal({ err: error }, `${definition.name} failed to start`);
    // pino writes synchronously to stdout by default, so the line is out before exit.
    process.exit(EXIT_START_FAILED);
  }
}
