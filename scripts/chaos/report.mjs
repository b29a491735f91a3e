// Renders a chaos summary (chaos.mjs) as Markdown: verdict, workload, faults
// with their recovery times, invariants and any violation in full.

const seconds = (ms) => (ms === undefined ? '—' : `${(ms / 1000).toFixed(1)} s`);

/** What the clients saw: error answers and the longest intervals without a successful answer. */
function availabilityLines(s) {
  const a = s.availability;
  if (!a) return [];
  const lines = ['## What a client saw', ''];
  const errors = Object.entries(a.clientErrors.byKindStatus).sort((x, y) => y[1] - x[1]);
  lines.push(
    `${a.clientErrors.total} of ${a.clientErrors.answers} answers during the ${a.windowS} s of faults were errors a client had to retry (no answer, 5xx, 408, 409, 429)` +
      `${errors.length ? `: ${errors.map(([key, n]) => `${key} × ${n}`).join(', ')}` : ''}.`,
    '',
  );
  lines.push(
    `Longest interval without a successful answer to any request: ${seconds(a.longestGap.gapMs)} (at ${a.longestGap.atS} s); per kind: ` +
      `${Object.entries(a.longestGapByKind).map(([kind, g]) => `${kind} ${seconds(g.gapMs)}`).join(', ')} (logins are a token refresh every 2 s: at least that).`,
    '',
  );
  if ((a.replicas ?? 1) > 1) {
    const r = a.replicaGap;
    lines.push(
      `**Longest interval without a successful answer while one replica was killed: ${seconds(r.gapMs)}${r.fault ? ` (${r.fault})` : ''}** ` +
        `(target ≤ ${seconds(a.gapMsTarget)}; over ${r.measured} replica kills, the affected kind's requests` +
        `${r.excluded.length ? `; left out, as overlapping a PostgreSQL/Kafka fault: ${r.excluded.join(', ')}` : ''}` +
        `${r.sparse.length ? `; identity kills are measured by logins only, sampled every 2 s: ${r.sparse.join(', ')}` : ''}` +
        `${r.singles?.length ? `; not replicated, so not counted: ${r.singles.join(', ')}` : ''}).`,
      '',
    );
  }
  if (s.loadBalancer && !s.loadBalancer.error) {
    const lb = s.loadBalancer;
    lines.push(`HAProxy (gateway backend): ${lb.retries} retries, ${lb.redispatches} redispatches to another gateway, ${lb.connectionErrors} connection errors, ${lb.responseErrors} response errors.`, '');
  }
  return lines;
}

/** The webhook deliveries to the run's receiver (webhook-facts.mjs), when the webhook-service ran. */
function webhookLines(s) {
  const w = s.webhooks;
  if (!w) return [];
  return [
    `Webhooks: every user's endpoint got ${w.expected} events of its accounts (all types) in ${w.deliveries} deliveries to the run's receiver: ` +
      `${w.acknowledged} acknowledged, ${w.answered500} answered 500 and ${w.hung} left without an answer on purpose, ${w.refused} refused (bad signature); ` +
      `${w.retries} retries of a failed attempt, ${w.duplicates} duplicates (sent again after a 2xx: at-least-once after a crash), ${w.missing} events never acknowledged; ` +
      `all delivered ${w.settleS} s after the histories were read.`,
    '',
    ...(w.log
      ? [
          `Delivery logs and redelivery: during the workload the users read ${w.log.logReads} pages of their delivery logs (${w.log.logReadsOk} answered 200, ${w.log.cursorPages} by a cursor, ${w.log.logReadsUnknown} unknown under faults) ` +
            `and asked ${w.log.redeliveries} redeliveries of a succeeded delivery (${w.log.redeliveriesOk} accepted with 202, ${w.log.redeliveriesUnknown} unknown under faults; ${w.log.redeliveriesReceived} of the accepted received again, ${w.redelivered} acknowledged again). ` +
            `After the run the ${w.log.endpoints} logs held ${w.log.entries} deliveries: ${w.log.succeeded} succeeded, ${w.log.pending} pending, ${w.log.failed} failed.`,
          '',
        ]
      : []),
  ];
}

export function renderMarkdown(s) {
  const lines = [];
  const replicated = (s.replicas ?? 1) > 1;
  lines.push(`# Chaos run (${s.form} form${replicated ? `, ${s.replicas} replicas` : ''}): ${s.passed ? 'PASSED' : 'FAILED'}`, '');
  const flags = `${s.form === 'full' ? '--full ' : ''}${replicated ? `--replicas ${s.replicas} ` : ''}`;
  lines.push(`Finished ${s.finishedAt}, seed ${s.seed} (\`npm run chaos -- ${flags}--seed ${s.seed}\` replays the same choices).`, '');
  if (replicated) {
    lines.push(
      `${s.replicas} instances of each of our services (identity, bank, card adapter, analytics, gateway; the payment gateway mock stands for an external provider and stays one), ` +
        'the REST API and the identity-service behind HAProxy, the analytics replicas on one shared ClickHouse engine. The nemesis kills one replica of each kind in turn ' +
        '(another one each round) and the bank replica holding the outbox relay leadership; PostgreSQL and Kafka (one each) are still crashed as before.',
      '',
    );
  }
  lines.push(
    `${s.accounts} accounts, ${s.profile.workers} concurrent clients, workload ${s.workloadS} s; history caught up after ${s.historyCatchUpS} s of checking.`,
    '',
  );
  const a = s.authentication;
  if (a) {
    lines.push(
      `Authentication on: ${a.users} users own the accounts; every request carries its owner's bearer token (logged in through the gateway's \`/auth/token\`, ` +
        `${a.logins} logins, ${a.refreshes} token refreshes${a.refreshFailures ? `, ${a.refreshFailures} failed background refreshes` : ''}; token lifetime ${a.tokenLifetimeS ?? '?'} s). ` +
        'A 401 or 403 to any request is a violation.',
      '',
    );
  }
  const m = s.mtls;
  if (m) {
    lines.push(
      `Mutual TLS on every internal hop (the run's own CA; ${m.rotations} certificate rotations): a caller refused by a caller table ` +
        `(PERMISSION_DENIED), or a certificate / handshake failure between the services in any service's log (${m.logsScanned.join(', ')}), is a violation.`,
      '',
    );
  }
  lines.push('| requests | total | completed | refused (business) | unanswered | unexpected answer | retried | attempts |', '|---|---|---|---|---|---|---|---|');
  for (const [name, k] of [['transfers', s.transfers], ['top-ups', s.topUps], ...(s.holds?.total ? [['holds (completed = captured, voided or expired as planned)', s.holds]] : []), ...(s.reversals?.total ? [['reversals (by the recipient)', s.reversals]] : []), ...(s.refunds?.total ? [[`refunds to the card (${s.refunds.succeeded} succeeded, ${s.refunds.failed} failed)`, s.refunds]] : [])]) {
    lines.push(`| ${name} | ${k.total} | ${k.completed} | ${k.rejected} | ${k.unknown} | ${k.unexpected} | ${k.retried} | ${k.attempts} |`);
  }
  lines.push('', `Money: initial ${s.money.initialTotal} + completed top-ups ${s.money.completedTopUps}${s.money.succeededRefunds ? ` - succeeded refunds ${s.money.succeededRefunds}` : ''} = final ${s.money.finalTotal}; lowest balance ${s.money.minBalance}; ${s.historyEntries} history entries checked.`, '');
  lines.push(...webhookLines(s));
  lines.push(...availabilityLines(s));
  lines.push('## Faults', '', '| at | fault | healed after | recovery (first success of the affected kind) | longest gap of the affected kind | affects |', '|---|---|---|---|---|---|');
  for (const f of s.faults) {
    const gap = f.gapMs === undefined ? '—' : `${seconds(f.gapMs)}${f.gapOverlaps ? ` (with ${f.gapOverlaps.join(', ')})` : ''}`;
    const details = f.details?.takeoverMs !== undefined ? ` (${f.details.leader} led; ${f.details.newLeader} took over after ${seconds(f.details.takeoverMs)})` : '';
    lines.push(`| ${f.atS} s | ${f.name}${details} | ${f.error ? `error: ${f.error}` : seconds(f.healMs)} | ${seconds(f.recoveryMs)} | ${gap} | ${f.affects} |`);
  }
  lines.push(
    '',
    '"healed after": from the fault to the component ready again (restart, resume). "recovery": from the fault until the first successful answer of the kind it affects, sent after the fault (`event` = an acknowledged transfer visible in its sender\'s history; `login` = a token answered by the gateway\'s `/auth/token`; `webhook` = a delivery the run\'s receiver acknowledged). ' +
      '"longest gap": the longest interval without a successful answer to a request of the affected kind (every kind for the gateway), from the last success before the fault to the first after it healed; other faults that interval overlapped are named.',
    '',
  );
  lines.push('## Invariants', '');
  const checks = [
    'every request answered (definitive answer after retries with its key)',
    'no unexpected answers',
    'replays count once (same id on every 201 of a key)',
    'balance equals model (initial + acknowledged movements)',
    'no balance below -(overdraft + forced reversals out) (0 without an overdraft; ADR 0016, 0017)',
    'money conserved (sum of balances = initial + completed top-ups - succeeded refunds to the card)',
    'history exactly once (every completed operation in both histories, nothing else)',
    "valid tokens accepted (no 401/403 to the owner's token, during a fault or not)",
    'correct callers accepted (no caller refused by a caller table: PERMISSION_DENIED between the services)',
    'TLS handshakes succeed between correctly configured services (no certificate or handshake error in any service log; each rotated certificate served on new connections)',
    ...(s.webhooks
      ? [
          "webhooks: every event of a user's accounts (in the histories) acknowledged at least once at the user's endpoint, with a valid Standard Webhooks signature; none that does not exist, none to another owner's endpoint; per account, no event sent before every earlier one in the stream was acknowledged (a re-send of an acknowledged event, e.g. a manual redelivery, excepted)",
          "webhook delivery logs (every page, after the run): every delivery the receiver acknowledged is there as succeeded, none failed, attempts at least the receiver's arrivals of its webhook-id; every redelivery answered 202 arrived again after it was asked",
        ]
      : []),
    ...(replicated ? ['relay leadership taken over within 5 s (kill -9 of the leader: another bank replica reports bank_outbox_relay_leader 1)'] : []),
    ...Object.entries(s.sqlChecks).map(([name, state]) => `${name} (SQL: ${state})`),
    // Limits, statements, balance-at, ledger verification (feature-facts.mjs).
    ...Object.entries(s.features?.checked ?? {}).map(([name, state]) => `${name} (${state})`),
  ];
  for (const check of checks) lines.push(`- ${check}`);
  lines.push('');
  if (s.violations.length === 0) lines.push('No violations.');
  else {
    lines.push(`### ${s.violations.length} violations`, '');
    for (const v of s.violations.slice(0, 200)) lines.push(`- **${v.invariant}**: ${v.detail}`);
    if (s.violations.length > 200) lines.push(`- … ${s.violations.length - 200} more in summary.json`);
  }
  lines.push('', '## Answers seen', '', '| kind status | count |', '|---|---|');
  for (const [key, n] of Object.entries(s.answers).sort()) lines.push(`| ${key} | ${n} |`);
  return `${lines.join('\n')}\n`;
}
