// Two replicas of every service of ours behind HAProxy (issue 13, C5), over
// REST only: while two clients keep sending transfers, each with its own
// Idempotency-Key and retried with THE SAME key on a 5xx or a connection error
// (what the API asks of a client), one replica of each kind in turn is killed
// with SIGKILL and started again. Every request ends with its one answer, the
// money is conserved, nothing is spent twice (a replay of any key answers the
// first answer and moves nothing), and the history shows each transfer once.
import { randomUUID } from 'node:crypto';
import { formatAmountMinor, parseAmountMinor } from '@wallet/platform';
import { waitFor } from '@wallet/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InstanceKey, ServiceKey } from '../../scripts/lib/system.mjs';
import { serverStates } from '../../scripts/lib/haproxy.mjs';
import { ACCOUNT_A, ACCOUNT_B, ALICE, BOB, rememberSecret, startSystem, type Credentials, type RunningSystem, type TokenResponse } from './harness.js';

/** Bound on one request's retries (a restart of the replica it needs takes seconds, not a minute). */
const ANSWER_DEADLINE_MS = 60_000;
const RETRY_DELAY_MS_MIN = 50;
const RETRY_DELAY_MS_MAX = 1_000;
/** Transfers answered after each kill and after each restart before the next step. */
const PROGRESS_PER_STEP = 8;
/** Replays checked at the end (a sample of the keys; each one is the full check). */
const REPLAYS_MAX = 40;

interface Answer {
  status: number;
  body: Record<string, unknown> | undefined;
  replayed: boolean;
}

interface Sent {
  key: string;
  from: string;
  to: string;
  amountMinor: bigint;
  answer: Answer;
  /** 5xx answers and connection errors seen before the answer. */
  failures: number;
  answeredAtMs: number;
  /** What was happening when it was answered (`bank killed`, `bank back`...). */
  phase: string;
}

/** One REST call through HAProxy; a connection error is status 0 (ambiguous: retry with the same key). */
async function call(baseUrl: string, method: string, path: string, headers: Record<string, string>, body?: unknown): Promise<Answer> {
  try {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    let parsed: Record<string, unknown> | undefined;
    try {
      parsed = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
    } catch {
      parsed = undefined; // HAProxy's own 502/503 page
    }
    return { status: res.status, body: parsed, replayed: res.headers.get('idempotent-replayed') === 'true' };
  } catch {
    return { status: 0, body: undefined, replayed: false };
  }
}

/** Sends until a final answer (not 5xx, not a connection error, not "key in flight"), with backoff, within ANSWER_DEADLINE_MS. */
async function untilAnswered(send: () => Promise<Answer>, what: string): Promise<{ answer: Answer; failures: number }> {
  const deadline = Date.now() + ANSWER_DEADLINE_MS;
  let delayMs = RETRY_DELAY_MS_MIN;
  for (let failures = 0; ; failures += 1) {
    const answer = await send();
    // 409 IDEMPOTENCY_KEY_IN_FLIGHT: the first try with this key is still running (e.g. behind a killed replica): ask again later.
    const inFlight = answer.status === 409 && answer.body?.code === 'IDEMPOTENCY_KEY_IN_FLIGHT';
    if (answer.status !== 0 && answer.status < 500 && !inFlight) return { answer, failures };
    if (Date.now() > deadline) throw new Error(`${what}: no answer within ${ANSWER_DEADLINE_MS} ms (last ${answer.status}, ${failures + 1} tries)`);
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    delayMs = Math.min(RETRY_DELAY_MS_MAX, delayMs * 2);
  }
}

describe('two replicas of everything behind HAProxy', () => {
  let system: RunningSystem;
  const sent: Sent[] = [];
  const tokens = new Map<string, string>();
  let stopping = false;
  let phase = 'no fault';

  const ownerOf = (account: string): Credentials => (account === ACCOUNT_B ? BOB : ALICE);
  const authOf = (user: Credentials) => ({ authorization: `Bearer ${tokens.get(user.username)}` });

  /** A password login through HAProxy to an identity replica, retried like any request. */
  async function logIn(user: Credentials): Promise<void> {
    const { answer } = await untilAnswered(async () => {
      try {
        const res = await fetch(`${system.baseUrl}/auth/token`, {
          method: 'POST',
          body: new URLSearchParams({ grant_type: 'password', username: user.username, password: user.password }),
          signal: AbortSignal.timeout(15_000),
        });
        return { status: res.status, body: (await res.json()) as Record<string, unknown>, replayed: false };
      } catch {
        return { status: 0, body: undefined, replayed: false };
      }
    }, `login of ${user.username}`);
    expect(answer.status, `login of ${user.username}`).toBe(200);
    const token = (answer.body as unknown as TokenResponse).access_token;
    rememberSecret(token);
    tokens.set(user.username, token);
  }

  const balanceOf = async (account: string) => {
    const { answer } = await untilAnswered(() => call(system.baseUrl, 'GET', `/accounts/${account}/balance`, authOf(ownerOf(account))), 'balance');
    expect(answer.status).toBe(200);
    return parseAmountMinor(answer.body!.balance as string);
  };

  const transfer = (from: string, to: string, amountMinor: bigint, key: string) =>
    call(system.baseUrl, 'POST', `/accounts/${from}/transfers`, { ...authOf(ownerOf(from)), 'Idempotency-Key': key }, {
      recipientAccountId: to,
      amount: formatAmountMinor(amountMinor),
    });

  /** A client sending transfers one after another, each until answered. */
  async function client(from: string, to: string): Promise<void> {
    while (!stopping) {
      const key = randomUUID();
      const amountMinor = BigInt(1 + Math.floor(Math.random() * 50));
      const { answer, failures } = await untilAnswered(() => transfer(from, to, amountMinor, key), `transfer ${key}`);
      sent.push({ key, from, to, amountMinor, answer, failures, answeredAtMs: Date.now(), phase });
    }
  }

  /** Waits until `count` more transfers were answered (the system makes progress). */
  const progress = async (count: number, what: string) => {
    const target = sent.length + count;
    await waitFor(() => sent.length >= target, { what: `${count} transfers answered ${what}`, timeoutMs: 120_000, intervalMs: 50 });
  };

  beforeAll(async () => {
    system = await startSystem({ replicas: 2, analytics: true, cardAdapter: true });
    await logIn(ALICE);
    await logIn(BOB);
  }, 600_000);
  afterAll(async () => {
    stopping = true;
    await system?.stop();
  });

  it('serves through HAProxy with two replicas of each service in rotation', async () => {
    // A readiness check can fail now and then on a saturated machine (the gateway's bank check has a deadline): wait, bounded.
    const servers = ['gateway/gateway', 'gateway/gateway.2', 'identity/identity', 'identity/identity.2'];
    await waitFor(async () => {
      const states = await serverStates(system.loadBalancer!.statsUrl);
      return servers.every((name) => states[name] === 'UP') ? states : undefined;
    }, { what: `HAProxy to see ${servers.join(', ')} UP`, timeoutMs: 30_000, intervalMs: 200 });
    for (const kind of ['identity', 'bank', 'analytics', 'cardAdapter', 'gateway'] as ServiceKey[]) {
      expect(system.instancesOf(kind).map((h) => h.pid !== undefined), kind).toEqual([true, true]);
    }
  });

  it('answers every request once, conserves money and spends nothing twice while one replica of each kind is killed and restarted', async () => {
    const initialA = await balanceOf(ACCOUNT_A);
    const initialB = await balanceOf(ACCOUNT_B);
    const clients = [client(ACCOUNT_A, ACCOUNT_B), client(ACCOUNT_B, ACCOUNT_A)];
    let toppedUpMinor = 0n;
    try {
      await progress(PROGRESS_PER_STEP, 'before any fault');
      // Replica 1 of the bank is the relay leader most of the time: its death also hands the relay over.
      const victims: InstanceKey[] = ['gateway.2', 'identity', 'bank', 'cardAdapter.2', 'analytics'];
      for (const victim of victims) {
        phase = `${victim} killed`;
        await system.instance(victim)!.kill();
        if (victim.startsWith('identity')) await logIn(ALICE);
        if (victim.startsWith('cardAdapter')) toppedUpMinor += await topUpWithRetries();
        if (victim.startsWith('analytics')) {
          const { answer } = await untilAnswered(() => call(system.baseUrl, 'GET', `/accounts/${ACCOUNT_A}/operations?limit=10`, authOf(ALICE)), 'history');
          expect(answer.status).toBe(200);
        }
        await progress(PROGRESS_PER_STEP, `after ${victim} was killed`);
        await system.restart(victim);
        phase = `${victim} back`;
        await progress(PROGRESS_PER_STEP, `after ${victim} came back`);
      }
    } finally {
      stopping = true;
      await Promise.all(clients);
    }

    // Every transfer ended with its first answer, a completed transfer.
    expect(sent.filter((s) => s.answer.status !== 201).map((s) => `${s.key}: ${s.answer.status} ${JSON.stringify(s.answer.body)}`)).toEqual([]);
    const outOf = (account: string) => sent.filter((s) => s.from === account).reduce((sum, s) => sum + s.amountMinor, 0n);
    const finalA = await balanceOf(ACCOUNT_A);
    const finalB = await balanceOf(ACCOUNT_B);
    expect(finalA + finalB).toBe(initialA + initialB + toppedUpMinor);
    expect(finalA).toBe(initialA - outOf(ACCOUNT_A) + outOf(ACCOUNT_B) + toppedUpMinor);
    expect(finalB).toBe(initialB - outOf(ACCOUNT_B) + outOf(ACCOUNT_A));

    // A replay of a key answers the first answer and moves nothing (the same transfer, not a second one).
    const sample = sent.filter((s, i) => s.failures > 0 || i % Math.max(1, Math.floor(sent.length / REPLAYS_MAX)) === 0).slice(0, REPLAYS_MAX);
    for (const s of sample) {
      const { answer } = await untilAnswered(() => transfer(s.from, s.to, s.amountMinor, s.key), `replay ${s.key}`);
      expect(answer.status, s.key).toBe(201);
      expect(answer.replayed, s.key).toBe(true);
      expect(answer.body!.id, s.key).toBe(s.answer.body!.id);
    }
    expect(await balanceOf(ACCOUNT_A)).toBe(finalA);
    expect(await balanceOf(ACCOUNT_B)).toBe(finalB);

    // The history (analytics replicas, one of them killed) shows each transfer exactly once on each side.
    const ids = new Set(sent.map((s) => s.answer.body!.id as string));
    for (const account of [ACCOUNT_A, ACCOUNT_B]) {
      const seen = await waitFor(async () => {
        const items = await operationsOf(account);
        const transfers = items.filter((op) => op.transferId !== undefined && ids.has(op.transferId));
        return transfers.length >= ids.size ? transfers : undefined;
      }, { what: `every transfer in the history of ${account}`, timeoutMs: 90_000, intervalMs: 500 });
      expect(seen.length, account).toBe(ids.size);
      expect(new Set(seen.map((op) => op.transferId)).size, account).toBe(ids.size);
    }
    // Reported, not asserted (no timed assertions): the longest wait between two answered transfers.
    const ordered = [...sent].sort((x, y) => x.answeredAtMs - y.answeredAtMs);
    const gaps = ordered.slice(1).map((s, i) => ({ gapMs: s.answeredAtMs - ordered[i]!.answeredAtMs, phase: s.phase }));
    const worstByPhase = new Map<string, number>();
    for (const g of gaps) worstByPhase.set(g.phase, Math.max(worstByPhase.get(g.phase) ?? 0, g.gapMs));
    const gapMsMax = Math.max(0, ...worstByPhase.values());
    const retried = sent.filter((s) => s.failures > 0);
    process.stderr.write(
      `replicas e2e: ${sent.length} transfers, ${retried.length} needed a retry (${retried.reduce((n, s) => n + s.failures, 0)} failed attempts: 5xx or connection errors), all answered once; longest interval without an answer ${gapMsMax} ms (per phase: ${[...worstByPhase].map(([p, ms]) => `${p} ${ms} ms`).join(', ')})\n`,
    );
  }, 900_000);

  /** A card top-up of alice's account while a card adapter replica is down: answered once, with retries of its key. */
  async function topUpWithRetries(): Promise<bigint> {
    const key = randomUUID();
    const body = { amount: '5.00', card: { number: '4242 4242 4242 4242', expiryMonth: 12, expiryYear: new Date().getUTCFullYear() + 3, cvc: '123', holderName: 'Ada Lovelace' } };
    const { answer } = await untilAnswered(() => call(system.baseUrl, 'POST', `/accounts/${ACCOUNT_A}/topup`, { ...authOf(ALICE), 'Idempotency-Key': key }, body), 'top-up');
    expect(answer.status, JSON.stringify(answer.body)).toBe(201);
    return 500n;
  }

  /** Every operation of an account (cursor pages of 100, bounded). */
  async function operationsOf(account: string): Promise<Array<{ transferId?: string }>> {
    const items: Array<{ transferId?: string }> = [];
    let cursor: string | null = null;
    for (let page = 0; page < 200; page += 1) {
      const query: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
      const { answer } = await untilAnswered(() => call(system.baseUrl, 'GET', `/accounts/${account}/operations?limit=100${query}`, authOf(ownerOf(account))), 'history');
      if (answer.status !== 200) throw new Error(`operations answered ${answer.status}`);
      items.push(...(answer.body!.items as Array<{ transferId?: string }>));
      cursor = answer.body!.nextCursor as string | null;
      if (!cursor) return items;
    }
    throw new Error('more than 200 pages of history');
  }
});
