// Renders a chaos summary (chaos.mjs) as Markdown: verdict, workload, faults
// with their recovery times, invariants and any violation in full.

const seconds = (ms) => (ms === undefined ? '—' : `${(ms / 1000).toFixed(1)} s`);

export function renderMarkdown(s) {
  const lines = [];
  lines.push(`# Chaos run (${s.form} form): ${s.passed ? 'PASSED' : 'FAILED'}`, '');
  lines.push(`Finished ${s.finishedAt}, seed ${s.seed} (\`npm run chaos -- ${s.form === 'full' ? '--full ' : ''}--seed ${s.seed}\` replays the same choices).`, '');
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
  for (const [name, k] of [['transfers', s.transfers], ['top-ups', s.topUps]]) {
    lines.push(`| ${name} | ${k.total} | ${k.completed} | ${k.rejected} | ${k.unknown} | ${k.unexpected} | ${k.retried} | ${k.attempts} |`);
  }
  lines.push('', `Money: initial ${s.money.initialTotal} + completed top-ups ${s.money.completedTopUps} = final ${s.money.finalTotal}; lowest balance ${s.money.minBalance}; ${s.historyEntries} history entries checked.`, '');
  lines.push('## Faults', '', '| at | fault | healed after | recovery (first success of the affected kind) | affects |', '|---|---|---|---|---|');
  for (const f of s.faults) {
    lines.push(`| ${f.atS} s | ${f.name} | ${f.error ? `error: ${f.error}` : seconds(f.healMs)} | ${seconds(f.recoveryMs)} | ${f.affects} |`);
  }
  lines.push('', '"healed after": from the fault to the component ready again (restart, resume). "recovery": from the fault until the first successful answer of the kind it affects, sent after the fault (`event` = an acknowledged transfer visible in its sender\'s history; `login` = a token answered by the gateway\'s `/auth/token`).', '');
  lines.push('## Invariants', '');
  const checks = [
    'every request answered (definitive answer after retries with its key)',
    'no unexpected answers',
    'replays count once (same id on every 201 of a key)',
    'balance equals model (initial + acknowledged movements)',
    'no negative balance',
    'money conserved (sum of balances = initial + completed top-ups)',
    'history exactly once (every completed operation in both histories, nothing else)',
    "valid tokens accepted (no 401/403 to the owner's token, during a fault or not)",
    'correct callers accepted (no caller refused by a caller table: PERMISSION_DENIED between the services)',
    'TLS handshakes succeed between correctly configured services (no certificate or handshake error in any service log; each rotated certificate served on new connections)',
    ...Object.entries(s.sqlChecks).map(([name, state]) => `${name} (SQL: ${state})`),
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
