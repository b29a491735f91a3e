import { afterEach, describe, expect, it, vi } from 'vitest';
import { pino } from 'pino';
import { Metadata, status as Status, type ServiceError } from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import { BreakerOpenError, createBreaker, isInfrastructureFailure, type Breaker } from '@wallet/platform/resilience';

const logger = pino({ level: 'silent' });
const breakers: Breaker[] = [];

afterEach(() => {
  for (const breaker of breakers.splice(0)) breaker.shutdown();
});

function grpcError(code: Status): ServiceError {
  return Object.assign(new Error(Status[code]), { code, details: Status[code] as string, metadata: new Metadata() }) as ServiceError;
}

function newBreaker(registry = new Registry(), resetTimeoutMs = 100): Breaker {
  const breaker = createBreaker('bank', { registry, logger, resetTimeoutMs, volumeThreshold: 4, errorThresholdPercentage: 50 });
  breakers.push(breaker);
  return breaker;
}

async function failTimes(breaker: Breaker, count: number, error: unknown): Promise<void> {
  for (let i = 0; i < count; i += 1) await expect(breaker.run(() => Promise.reject(error))).rejects.toBe(error);
}

async function metricValue(registry: Registry, name: string, labels: Record<string, string>): Promise<number | undefined> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  return metric?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value;
}

describe('createBreaker', () => {
  it('opens after infrastructure failures pass the threshold and then refuses at once without calling fn', async () => {
    const registry = new Registry();
    const breaker = newBreaker(registry, 60_000);
    await failTimes(breaker, 4, grpcError(Status.UNAVAILABLE));
    expect(breaker.state()).toBe('open');

    const fn = vi.fn(() => Promise.resolve('sent'));
    const refusal = await breaker.run(fn).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(BreakerOpenError);
    expect(refusal).toMatchObject({ breaker: 'bank' });
    expect((refusal as BreakerOpenError).retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect((refusal as BreakerOpenError).retryAfterSeconds).toBeLessThanOrEqual(60);
    expect(fn).not.toHaveBeenCalled();
    expect(breaker.retryAfterSeconds()).toBeGreaterThanOrEqual(1);

    expect(await metricValue(registry, 'circuit_breaker_state', { breaker: 'bank' })).toBe(2);
    expect(await metricValue(registry, 'circuit_breaker_transitions_total', { breaker: 'bank', to: 'open' })).toBe(1);
    expect(await metricValue(registry, 'circuit_breaker_rejections_total', { breaker: 'bank' })).toBe(1);
  });

  it('never opens on business answers (gRPC NOT_FOUND, FAILED_PRECONDITION, HTTP 4xx)', async () => {
    const breaker = newBreaker();
    await failTimes(breaker, 10, grpcError(Status.FAILED_PRECONDITION));
    await failTimes(breaker, 10, grpcError(Status.NOT_FOUND));
    await failTimes(breaker, 10, Object.assign(new Error('conflict'), { statusCode: 409 }));
    expect(breaker.state()).toBe('closed');
    expect(breaker.retryAfterSeconds()).toBe(0);
  });

  it('does not open below the volume threshold', async () => {
    const breaker = newBreaker();
    await failTimes(breaker, 3, grpcError(Status.UNAVAILABLE));
    expect(breaker.state()).toBe('closed');
  });

  it('goes half-open after the reset timeout and a successful probe closes it', async () => {
    const registry = new Registry();
    const breaker = newBreaker(registry);
    await failTimes(breaker, 4, grpcError(Status.DEADLINE_EXCEEDED));
    await vi.waitFor(() => expect(breaker.state()).toBe('half_open'), { timeout: 5_000, interval: 10 });
    expect(await metricValue(registry, 'circuit_breaker_state', { breaker: 'bank' })).toBe(1);

    await expect(breaker.run(() => Promise.resolve('ok'))).resolves.toBe('ok');
    expect(breaker.state()).toBe('closed');
    expect(await metricValue(registry, 'circuit_breaker_transitions_total', { breaker: 'bank', to: 'closed' })).toBe(1);
  });

  it('starts a fresh window when it closes: one failure right after recovery does not reopen it', async () => {
    const breaker = newBreaker();
    await failTimes(breaker, 4, grpcError(Status.UNAVAILABLE));
    await vi.waitFor(() => expect(breaker.state()).toBe('half_open'), { timeout: 5_000, interval: 10 });
    await expect(breaker.run(() => Promise.resolve('ok'))).resolves.toBe('ok');
    await failTimes(breaker, 1, grpcError(Status.UNAVAILABLE));
    expect(breaker.state()).toBe('closed');
  });

  it('lets one probe through while half-open and refuses the others until it answers', async () => {
    const breaker = newBreaker();
    await failTimes(breaker, 4, grpcError(Status.UNAVAILABLE));
    await vi.waitFor(() => expect(breaker.state()).toBe('half_open'), { timeout: 5_000, interval: 10 });

    let answer!: (value: string) => void;
    const probe = breaker.run(() => new Promise<string>((resolve) => (answer = resolve)));
    const second = vi.fn(() => Promise.resolve('second'));
    await expect(breaker.run(second)).rejects.toBeInstanceOf(BreakerOpenError);
    expect(second).not.toHaveBeenCalled();
    answer('probe');
    await expect(probe).resolves.toBe('probe');
    expect(breaker.state()).toBe('closed');
  });

  it('reopens when the half-open probe fails with an infrastructure failure', async () => {
    const breaker = newBreaker();
    await failTimes(breaker, 4, grpcError(Status.UNAVAILABLE));
    await vi.waitFor(() => expect(breaker.state()).toBe('half_open'), { timeout: 5_000, interval: 10 });
    await failTimes(breaker, 1, grpcError(Status.UNAVAILABLE));
    expect(breaker.state()).toBe('open');
  });

  it('closes when the half-open probe gets a business answer (the downstream is up)', async () => {
    const breaker = newBreaker();
    await failTimes(breaker, 4, grpcError(Status.UNAVAILABLE));
    await vi.waitFor(() => expect(breaker.state()).toBe('half_open'), { timeout: 5_000, interval: 10 });
    await failTimes(breaker, 1, grpcError(Status.NOT_FOUND));
    expect(breaker.state()).toBe('closed');
  });

  it('shares one set of metrics between breakers on one registry', async () => {
    const registry = new Registry();
    newBreaker(registry);
    const other = createBreaker('analytics', { registry, logger });
    breakers.push(other);
    expect(await metricValue(registry, 'circuit_breaker_state', { breaker: 'analytics' })).toBe(0);
    expect(await metricValue(registry, 'circuit_breaker_state', { breaker: 'bank' })).toBe(0);
  });

  it('counts what options.isFailure says instead of the default', async () => {
    const breaker = createBreaker('payment_gateway', {
      registry: new Registry(),
      logger,
      volumeThreshold: 2,
      isFailure: (error) => (error as { kind?: string }).kind === 'unavailable',
    });
    breakers.push(breaker);
    await failTimes(breaker, 2, Object.assign(new Error('down'), { kind: 'unavailable' }));
    expect(breaker.state()).toBe('open');
  });
});

describe('isInfrastructureFailure', () => {
  it.each([
    ['gRPC UNAVAILABLE', grpcError(Status.UNAVAILABLE)],
    ['gRPC DEADLINE_EXCEEDED', grpcError(Status.DEADLINE_EXCEEDED)],
    ['gRPC INTERNAL', grpcError(Status.INTERNAL)],
    ['gRPC UNKNOWN', grpcError(Status.UNKNOWN)],
    ['gRPC RESOURCE_EXHAUSTED', grpcError(Status.RESOURCE_EXHAUSTED)],
    ['a code name (client error wrappers)', Object.assign(new Error('x'), { code: 'UNAVAILABLE' })],
    ['a refused connection', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })],
    ['fetch failed with a socket cause', new TypeError('fetch failed', { cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }) })],
    ['a timeout', Object.assign(new Error('timed out'), { name: 'TimeoutError' })],
    ['an HTTP 503', Object.assign(new Error('unavailable'), { statusCode: 503 })],
    ['an HTTP 500 (status)', Object.assign(new Error('boom'), { status: 500 })],
  ])('counts %s', (_what, error) => {
    expect(isInfrastructureFailure(error)).toBe(true);
  });

  it.each([
    ['gRPC NOT_FOUND', grpcError(Status.NOT_FOUND)],
    ['gRPC FAILED_PRECONDITION', grpcError(Status.FAILED_PRECONDITION)],
    ['gRPC INVALID_ARGUMENT', grpcError(Status.INVALID_ARGUMENT)],
    ['gRPC ALREADY_EXISTS', grpcError(Status.ALREADY_EXISTS)],
    ['gRPC PERMISSION_DENIED', grpcError(Status.PERMISSION_DENIED)],
    ['an HTTP 404', Object.assign(new Error('nope'), { statusCode: 404 })],
    ['a programming error', new TypeError('x is undefined')],
    ['a non-error', 'a string'],
    ['null', null],
  ])('does not count %s', (_what, error) => {
    expect(isInfrastructureFailure(error)).toBe(false);
  });
});
