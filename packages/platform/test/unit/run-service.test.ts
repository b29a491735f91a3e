import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, configErrorMessage } from '@wallet/platform';
import { startOtlpSink, waitFor } from '../support/otlp-sink.js';

const fixture = fileURLToPath(new URL('../support/fixture-service.mjs', import.meta.url));

interface Run {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function run(env: Record<string, string>): Run {
  const child = spawn(process.execPath, [fixture], {
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  // 'close', not 'exit': only then has all of the child's output been read.
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })),
  );
  return { child, output: () => output, exited };
}

/** Waits until the output holds `text`, or fails after timeoutMs. */
async function waitForOutput(target: Run, text: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!target.output().includes(text)) {
    if (Date.now() > deadline) throw new Error(`no "${text}" within ${timeoutMs} ms; output:\n${target.output()}`);
    if (target.child.exitCode !== null) throw new Error(`exited before "${text}"; output:\n${target.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function lines(output: string): Array<Record<string, unknown>> {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('runService', () => {
  it('exits 2 with one message naming each bad variable, before any log line', async () => {
    const target = run({ FIXTURE_PORT: 'eighty', FIXTURE_START: 'maybe' });
    expect(await target.exited).toEqual({ code: 2, signal: null });
    const output = target.output();
    expect(output).toMatch(/^fixture-service: invalid configuration:/);
    expect(output).toContain('FIXTURE_PORT');
    expect(output).toContain('FIXTURE_START');
    expect(output).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('refuses a WALLET_TEST_ hook under NODE_ENV=production, naming it', async () => {
    const target = run({ NODE_ENV: 'production', WALLET_TEST_FIXTURE_HOOK: 'true' });
    expect(await target.exited).toEqual({ code: 2, signal: null });
    expect(target.output()).toContain('WALLET_TEST_FIXTURE_HOOK: test-only hook, refused when NODE_ENV=production');
  });

  it('logs fatal and exits 1 when start fails', async () => {
    const target = run({ FIXTURE_START: 'fail' });
    expect((await target.exited).code).toBe(1);
    const fatal = lines(target.output()).find((line) => line.level === 'fatal');
    expect(fatal).toMatchObject({ service: 'fixture-service', msg: 'fixture-service failed to start' });
    expect(JSON.stringify(fatal)).toContain('port already in use');
  });

  it('logs started with the service info, then drains on SIGTERM and exits 0', async () => {
    const target = run({ FIXTURE_PORT: '4321', FIXTURE_CLOSE_MS: '50' });
    await waitForOutput(target, '"msg":"started"');
    const started = lines(target.output()).find((line) => line.msg === 'started');
    expect(started).toMatchObject({ service: 'fixture-service', port: 4321, shutdownTimeoutMs: 5000, tracesExported: false });
    target.child.kill('SIGTERM');
    expect(await target.exited).toEqual({ code: 0, signal: null });
    const messages = lines(target.output()).map((line) => line.msg);
    expect(messages.slice(-3)).toEqual(['shutting down', 'closing', 'stopped']);
    expect(lines(target.output()).find((line) => line.msg === 'started')).not.toHaveProperty('trace_id');
  });

  it('exits 2 naming a bad OTEL_* variable (tracing config is config)', async () => {
    const target = run({ OTEL_TRACES_SAMPLER: 'sometimes' });
    expect(await target.exited).toEqual({ code: 2, signal: null });
    expect(target.output()).toMatch(/^fixture-service: invalid configuration:\n {2}OTEL_TRACES_SAMPLER: must be one of/);
  });

  it('puts trace_id on log lines and flushes spans to the OTLP endpoint on SIGTERM', async () => {
    const sink = await startOtlpSink();
    try {
      // A long batch delay: only the shutdown flush can deliver the span.
      const env = { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_BSP_SCHEDULE_DELAY: '600000' };
      const target = run(env);
      await waitForOutput(target, '"msg":"started"');
      const starting = lines(target.output()).find((line) => line.msg === 'starting');
      expect(starting?.trace_id).toMatch(/^[0-9a-f]{32}$/);
      target.child.kill('SIGTERM');
      expect(await target.exited).toEqual({ code: 0, signal: null });
      await waitFor(() => sink.requests.length > 0, 'the flushed export');
      const body = sink.requests.map((request) => request.body.toString()).join('\n');
      expect(body).toContain('fixture.start');
      expect(body).toContain(String(starting?.trace_id));
    } finally {
      await sink.close();
    }
  });

  it('exits 1 when the drain outlasts the shutdown bound', async () => {
    const target = run({ FIXTURE_CLOSE_MS: '30000', FIXTURE_SHUTDOWN_TIMEOUT_MS: '300' });
    await waitForOutput(target, '"msg":"started"');
    target.child.kill('SIGINT');
    expect(await target.exited).toEqual({ code: 1, signal: null });
    expect(target.output()).toContain('shutdown timed out, exiting');
  });
});

describe('configErrorMessage', () => {
  it('prefixes a ConfigError with the service name', () => {
    expect(configErrorMessage('bank-service', new ConfigError(['BANK_GRPC_PORT: too big']))).toBe(
      'bank-service: invalid configuration:\n  BANK_GRPC_PORT: too big',
    );
  });

  it('reports any other config-time error as a configuration error, without its stack', () => {
    expect(configErrorMessage('card', new Error('limits: min above max'))).toBe('card: invalid configuration: limits: min above max');
  });
});
