// The scenarios of issue 6 against a running system. Each returns one or
// more result rows: throughput of expected answers only, latency percentiles,
// error counts by kind. Every request is authenticated (issue 10): worker w
// acts as its user (ctx.auth.worker(w), bench/lib/population.mjs), sends from
// the accounts that user owns, to any account, with its bearer token.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { BankGrpcClient, RestClient, randomAmount, randomAmountMinor, transferPath } from './clients.mjs';
import { errorKind, latencySummary, newHistogram, round, runClosedLoop, runOpenLoop } from './closed-loop.mjs';

const pickOther = (ids, not) => {
  for (;;) {
    const id = ids[Math.floor(Math.random() * ids.length)];
    if (id !== not) return id;
  }
};
const pick = (ids) => ids[Math.floor(Math.random() * ids.length)];
const keyPrefix = randomUUID().slice(0, 8);
let keySeq = 0;
const newKey = () => `${keyPrefix}-${(keySeq += 1).toString(36)}`;

/** POST a transfer as `actor`; true on 201, else "status N". */
async function postTransfer(rest, actor, sender, recipient, key = newKey(), amount = randomAmount()) {
  const res = await rest.request('POST', transferPath(sender), {
    headers: { ...actor.headers(), 'idempotency-key': key },
    body: { recipientAccountId: recipient, amount },
  });
  return res.status === 201 ? true : `status ${res.status}`;
}

/** A transfer from one of the actor's accounts to any other account. */
function ownTransfer(rest, actor, ids) {
  const sender = pick(actor.accountIds);
  return postTransfer(rest, actor, sender, pickOther(ids, sender));
}

/** Uniform random pairs through REST, closed loop at `concurrency`. */
export async function restUniform(ctx, concurrency) {
  await ctx.auth.prepare({ workers: concurrency });
  const rest = new RestClient(ctx.baseUrl, concurrency);
  const ids = ctx.accounts.ids;
  try {
    return await runClosedLoop({
      concurrency,
      durationMs: ctx.durations.loadMs,
      warmupMs: ctx.durations.warmupMs,
      op: (worker) => ownTransfer(rest, ctx.auth.worker(worker), ids),
    });
  } finally {
    await rest.close();
  }
}

/** The same transfers at a fixed rate (open loop): latency at a given throughput; request i acts as user i mod K. */
export async function restUniformAtRate(ctx, ratePerS) {
  const actorsCount = ctx.auth.users.length;
  await ctx.auth.prepare({ workers: actorsCount });
  const rest = new RestClient(ctx.baseUrl, 256);
  const ids = ctx.accounts.ids;
  try {
    return await runOpenLoop({
      ratePerS,
      durationMs: ctx.durations.loadMs,
      warmupMs: ctx.durations.warmupMs,
      maxInFlight: 1_000,
      op: (seq) => ownTransfer(rest, ctx.auth.worker(seq % actorsCount), ids),
    });
  } finally {
    await rest.close();
  }
}

/** One TransferMoney straight to the bank as `actor` (its own account to any other), its token as metadata. */
async function grpcTransfer(bank, actor, ids) {
  const sender = pick(actor.accountIds);
  const res = await bank.transferMoney(
    {
      senderAccountId: sender,
      recipientAccountId: pickOther(ids, sender),
      amount: { amountMinor: randomAmountMinor(), currencyCode: 'USD' },
      idempotencyKey: newKey(),
      description: '',
    },
    actor.headers(),
  );
  return res.transfer ? true : 'empty response';
}

/**
 * Uniform random pairs straight to the bank-service over gRPC (no gateway),
 * with the bearer token as metadata, over ctx.grpcTransport: mutual TLS as the
 * api-gateway (bench/lib/tls.mjs), or plaintext in the "mTLS off" comparison.
 */
export async function grpcUniform(ctx, concurrency) {
  await ctx.auth.prepare({ workers: concurrency });
  const bank = new BankGrpcClient(ctx.bankGrpcAddress, ctx.grpcTransport);
  const ids = ctx.accounts.ids;
  try {
    return await runClosedLoop({
      concurrency,
      durationMs: ctx.durations.loadMs,
      warmupMs: ctx.durations.warmupMs,
      op: (worker) => grpcTransfer(bank, ctx.auth.worker(worker), ids),
    });
  } finally {
    bank.close();
  }
}

/** The same gRPC transfers at a fixed rate (open loop); request i acts as user i mod K. */
export async function grpcUniformAtRate(ctx, ratePerS) {
  const actorsCount = ctx.auth.users.length;
  await ctx.auth.prepare({ workers: actorsCount });
  const bank = new BankGrpcClient(ctx.bankGrpcAddress, ctx.grpcTransport);
  const ids = ctx.accounts.ids;
  try {
    return await runOpenLoop({
      ratePerS,
      durationMs: ctx.durations.loadMs,
      warmupMs: ctx.durations.warmupMs,
      maxInFlight: 1_000,
      op: (seq) => grpcTransfer(bank, ctx.auth.worker(seq % actorsCount), ids),
    });
  } finally {
    bank.close();
  }
}

/** Every transfer from one sender (its owner's workers), or every transfer to one recipient (from the workers' own accounts). */
export async function restHot(ctx, concurrency, side) {
  await ctx.auth.prepare(side === 'sender' ? { hotWorkers: concurrency } : { workers: concurrency });
  const rest = new RestClient(ctx.baseUrl, concurrency);
  const { ids, hotSender, hotRecipient } = ctx.accounts;
  try {
    return await runClosedLoop({
      concurrency,
      durationMs: ctx.durations.loadMs,
      warmupMs: ctx.durations.warmupMs,
      op: (worker) =>
        side === 'sender'
          ? postTransfer(rest, ctx.auth.hotWorker(worker), hotSender, pick(ids))
          : postTransfer(rest, ctx.auth.worker(worker), pick(ctx.auth.worker(worker).accountIds), hotRecipient),
    });
  } finally {
    await rest.close();
  }
}

/** 80% GET balance, 20% POST transfer, random own accounts; per-kind latencies too. */
export async function restMixed(ctx, concurrency) {
  await ctx.auth.prepare({ workers: concurrency });
  const rest = new RestClient(ctx.baseUrl, concurrency);
  const ids = ctx.accounts.ids;
  const perKind = { read: newHistogram(), transfer: newHistogram() };
  const counts = { read: 0, transfer: 0 };
  try {
    const result = await runClosedLoop({
      concurrency,
      durationMs: ctx.durations.loadMs,
      warmupMs: ctx.durations.warmupMs,
      op: async (worker) => {
        const actor = ctx.auth.worker(worker);
        const kind = Math.random() < 0.8 ? 'read' : 'transfer';
        const t0 = performance.now();
        let outcome;
        if (kind === 'read') {
          const res = await rest.request('GET', `/accounts/${pick(actor.accountIds)}/balance`, { headers: actor.headers() });
          outcome = res.status === 200 ? true : `read status ${res.status}`;
        } else {
          outcome = await ownTransfer(rest, actor, ids);
        }
        if (outcome === true) {
          perKind[kind].recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)));
          counts[kind] += 1;
        }
        return outcome;
      },
    });
    result.perKind = { read: latencySummary(perKind.read), transfer: latencySummary(perKind.transfer) };
    result.readShare = round(counts.read / Math.max(1, counts.read + counts.transfer), 3);
    return result;
  } finally {
    await rest.close();
  }
}

/** Replays of already completed transfers: same key, same body, same user; expect 201 + Idempotent-Replayed. */
export async function restReplays(ctx, concurrency) {
  await ctx.auth.prepare({ workers: concurrency });
  const rest = new RestClient(ctx.baseUrl, concurrency);
  const ids = ctx.accounts.ids;
  try {
    // 200 originals, made 10 at a time, each by one worker's user.
    const originals = [];
    for (let batch = 0; batch < 20; batch += 1) {
      await Promise.all(
        Array.from({ length: 10 }, async (_, i) => {
          const actor = ctx.auth.worker((batch * 10 + i) % concurrency);
          const sender = pick(actor.accountIds);
          const original = { actor, sender, key: newKey(), recipient: pickOther(ids, sender), amount: randomAmount() };
          if ((await postTransfer(rest, actor, original.sender, original.recipient, original.key, original.amount)) === true) originals.push(original);
        }),
      );
    }
    if (originals.length === 0) throw new Error('replays: no original transfer succeeded');
    return await runClosedLoop({
      concurrency,
      durationMs: ctx.durations.loadMs,
      warmupMs: ctx.durations.warmupMs,
      op: async () => {
        const o = pick(originals);
        const res = await rest.request('POST', transferPath(o.sender), {
          headers: { ...o.actor.headers(), 'idempotency-key': o.key },
          body: { recipientAccountId: o.recipient, amount: o.amount },
        });
        if (res.status !== 201) return `status ${res.status}`;
        return res.headers['idempotent-replayed'] === 'true' ? true : 'not marked replayed';
      },
    });
  } finally {
    await rest.close();
  }
}

/**
 * Event lag under load: background transfers at `concurrency` (the peak
 * level), while probe loops each make one transfer and poll the sender's
 * /operations until the transfer shows up. Lag = first poll that sees it
 * minus the moment the 201 arrived (resolution: the poll interval).
 */
export async function eventLag(ctx, concurrency, { probes = 2, pollIntervalMs = 50, visibleTimeoutMs = 15_000 } = {}) {
  const { users } = ctx.auth;
  await ctx.auth.prepare({ workers: Math.max(concurrency, users.length) });
  // Probe i acts as the last users, on four accounts of their own that the load never sends from.
  const probeActors = Array.from({ length: probes }, (_, i) => ctx.auth.worker(users.length - 1 - (i % users.length)));
  const probeAccountsOf = probeActors.map((actor, i) => actor.accountIds.slice(i * 4, i * 4 + 4));
  const probeAccounts = new Set(probeAccountsOf.flat());
  const loadIds = ctx.accounts.ids.filter((id) => !probeAccounts.has(id));
  const loadSenders = new Map();
  const sendersOf = (actor) => {
    if (!loadSenders.has(actor.user.index)) loadSenders.set(actor.user.index, actor.accountIds.filter((id) => !probeAccounts.has(id)));
    return loadSenders.get(actor.user.index);
  };
  const rest = new RestClient(ctx.baseUrl, concurrency);
  const probeRest = new RestClient(ctx.baseUrl, probes * 2);
  const lagHistogram = newHistogram();
  const lags = { seen: 0, notSeen: 0, errors: 0 };
  let stop = false;
  const probeLoop = async (index) => {
    // Each probe uses its own senders, so its transfers are on their first history page.
    const mine = probeAccountsOf[index];
    const actor = probeActors[index];
    while (!stop) {
      const sender = pick(mine);
      try {
        const res = await probeRest.request('POST', transferPath(sender), {
          headers: { ...actor.headers(), 'idempotency-key': newKey() },
          body: { recipientAccountId: pick(loadIds), amount: '0.01' },
          json: true,
        });
        const acknowledgedAt = performance.now();
        if (res.status !== 201) {
          lags.errors += 1;
          continue;
        }
        const transferId = res.body.id;
        let seenAt;
        while (performance.now() - acknowledgedAt < visibleTimeoutMs) {
          const page = await probeRest.request('GET', `/accounts/${sender}/operations?limit=5`, { headers: actor.headers(), json: true });
          if (page.status === 200 && page.body.items.some((item) => item.transferId === transferId)) {
            seenAt = performance.now();
            break;
          }
          await sleep(pollIntervalMs);
        }
        if (seenAt === undefined) lags.notSeen += 1;
        else {
          lags.seen += 1;
          lagHistogram.recordValue(Math.max(1, Math.round((seenAt - acknowledgedAt) * 1000)));
        }
      } catch (error) {
        lags.errors += 1;
        lags.lastError = errorKind(error);
      }
    }
  };
  const probeRuns = Array.from({ length: probes }, (_, i) => probeLoop(i));
  try {
    const load = await runClosedLoop({
      concurrency,
      durationMs: ctx.durations.lagMs,
      warmupMs: ctx.durations.warmupMs,
      op: (worker) => {
        const actor = ctx.auth.worker(worker);
        const sender = pick(sendersOf(actor));
        return postTransfer(rest, actor, sender, pickOther(loadIds, sender));
      },
    });
    stop = true;
    await Promise.all(probeRuns);
    return { ...load, lag: { ...latencySummary(lagHistogram), ...lags, pollIntervalMs }, lagHistogram };
  } finally {
    stop = true;
    await rest.close();
    await probeRest.close();
  }
}

/** Walks `pages` pages of an account's history as `actor` (its owner); returns the cursor of the last one. */
export async function deepCursor(ctx, actor, accountId, pages) {
  const rest = new RestClient(ctx.baseUrl, 1);
  try {
    let cursor;
    const t0 = performance.now();
    for (let i = 0; i < pages; i += 1) {
      const query = cursor ? `?limit=20&cursor=${encodeURIComponent(cursor)}` : '?limit=20';
      const res = await rest.request('GET', `/accounts/${accountId}/operations${query}`, { headers: actor.headers(), json: true });
      if (res.status !== 200) throw new Error(`history walk: status ${res.status} at page ${i + 1}: ${JSON.stringify(res.body).slice(0, 300)}`);
      if (!res.body.nextCursor) throw new Error(`history walk: no nextCursor at page ${i + 1} (account has too few operations)`);
      cursor = res.body.nextCursor;
    }
    return { cursor, walkMs: Math.round(performance.now() - t0), pages };
  } finally {
    await rest.close();
  }
}

/**
 * GET /operations pages in a closed loop: `actorOf(worker)` is who reads (the
 * account's owner), `target(actor)` the path of the next request.
 */
export async function historyReads(ctx, concurrency, actorOf, target) {
  const rest = new RestClient(ctx.baseUrl, concurrency);
  try {
    return await runClosedLoop({
      concurrency,
      durationMs: ctx.durations.historyMs,
      warmupMs: ctx.durations.warmupMs,
      op: async (worker) => {
        const actor = actorOf(worker);
        const res = await rest.request('GET', target(actor), { headers: actor.headers(), json: true });
        if (res.status !== 200) return `status ${res.status}`;
        return res.body.items.length > 0 ? true : 'empty page';
      },
    });
  } finally {
    await rest.close();
  }
}

/**
 * GET /operations pages at a fixed rate (open loop): whether the service
 * serves `ratePerS` reads/s when they are offered, independent of how many
 * readers a closed loop has. Request i reads as actorOf(i mod actors).
 * At most 256 in flight (the rate at a 128 ms answer; the goal's 20 ms p99
 * needs ~40): beyond that a read counts as "overload" at once, and the
 * abandoned ones get 5 s, so a service far from the rate costs seconds, not
 * a backlog that the next phases would pay for.
 */
export async function historyReadsAtRate(ctx, ratePerS, actorsCount, actorOf, target) {
  const inFlightMax = 256;
  const rest = new RestClient(ctx.baseUrl, inFlightMax);
  try {
    return await runOpenLoop({
      ratePerS,
      durationMs: ctx.durations.historyMs,
      warmupMs: ctx.durations.warmupMs,
      maxInFlight: inFlightMax,
      drainMs: 5_000,
      op: async (seq) => {
        const actor = actorOf(seq % actorsCount);
        const res = await rest.request('GET', target(actor), { headers: actor.headers(), json: true });
        if (res.status !== 200) return `status ${res.status}`;
        return res.body.items.length > 0 ? true : 'empty page';
      },
    });
  } finally {
    await rest.close();
  }
}
