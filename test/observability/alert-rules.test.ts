// The Prometheus alert rules (deploy/observability/prometheus/rules) are valid
// (`promtool check rules`), pass their unit tests (`promtool test rules`),
// every alert is tested both firing and quiet, carries a severity, a summary,
// a description and a runbook link, and every runbook link has its section in
// docs/runbooks/alerts.md. promtool: scripts/lib/promtool.mjs (`npm test`
// installs Debian's prometheus package when it is missing).
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureAmtool, ensurePromtool, promtoolVersion, runPromtool } from '../../scripts/lib/promtool.mjs';
import { allRules, root, ruleFiles, rulesDir, ruleTestFiles, ruleTestsDir, runbookFile } from './support.js';

interface AlertRuleTest {
  alertname: string;
  eval_time: string;
  exp_alerts?: unknown[] | null;
}
interface RuleTestFile {
  rule_files: string[];
  tests: { name?: string; alert_rule_test?: AlertRuleTest[] }[];
}

const SEVERITIES = new Set(['page', 'ticket']);
const alerts = allRules().filter((r) => r.alert);
const testFiles = ruleTestFiles().map((file) => ({ file, ...(parse(readFileSync(file, 'utf8')) as RuleTestFile) }));
const alertTests = testFiles.flatMap((f) => f.tests.flatMap((t) => t.alert_rule_test ?? []));

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to dashes. */
const anchorOf = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9 _-]/g, '')
    .replace(/ /g, '-');

describe('Prometheus alert rules', () => {
  let promtool: string;
  beforeAll(() => {
    promtool = ensurePromtool({ install: false });
    console.log(`[alert-rules] ${promtoolVersion(promtool)}`);
  });

  it('has alerts for the SLOs and every pipeline, top-up, availability, resource and security signal', () => {
    expect(alerts.map((a) => a.alert).sort()).toEqual(
      expect.arrayContaining([
        'TransferErrorBudgetBurnFast',
        'TransferErrorBudgetBurnMedium',
        'TransferErrorBudgetBurnSlow',
        'TransferLatencyBudgetBurnFast',
        'TransferLatencyBudgetBurnMedium',
        'TransferLatencyBudgetBurnSlow',
        'OutboxEventsStale',
        'OutboxEventsQuarantined',
        'AnalyticsConsumerLagHigh',
        'AnalyticsDeadLetterGrowing',
        'TopUpsPendingTooLong',
        'TopUpRefundsFailed',
        'ServiceDown',
        'HeapNearLimit',
        'ResidentMemoryNearLimit',
        'CertificateExpiringSoon',
        'CallersDenied',
      ]),
    );
    expect(new Set(alerts.map((a) => a.alert)).size, 'alert names are unique').toBe(alerts.length);
  });

  it('passes promtool check rules', () => {
    const files = ruleFiles().map((f) => f.file);
    expect(files.length).toBeGreaterThan(0);
    const result = runPromtool(promtool, ['check', 'rules', ...files]);
    expect(result.status, result.output).toBe(0);
  });

  it('passes promtool test rules (every file under prometheus/tests)', () => {
    const result = runPromtool(promtool, ['test', 'rules', ...testFiles.map((f) => basename(f.file))], { cwd: ruleTestsDir, timeoutMs: 300_000 });
    expect(result.status, result.output).toBe(0);
    expect(result.output).not.toMatch(/FAILED/);
  }, 320_000);

  it('a wrong expectation fails promtool test rules (the check can fail)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'alert-rules-'));
    try {
      const broken = {
        rule_files: [join(rulesDir, 'wallet.yml')],
        evaluation_interval: '1m',
        tests: [{ interval: '1m', input_series: [{ series: 'up{job="bank-service",instance="x"}', values: '1x10' }], alert_rule_test: [{ eval_time: '10m', alertname: 'ServiceDown', exp_alerts: [{ exp_labels: { severity: 'page', job: 'bank-service', instance: 'x' } }] }] }],
      };
      writeFileSync(join(dir, 'broken.test.yml'), JSON.stringify(broken));
      const result = runPromtool(promtool, ['test', 'rules', 'broken.test.yml'], { cwd: dir });
      expect(result.status).not.toBe(0);
      expect(result.output).toContain('ServiceDown');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('tests every alert both firing and quiet', () => {
    for (const { alert } of alerts) {
      const cases = alertTests.filter((t) => t.alertname === alert);
      expect(cases.some((t) => (t.exp_alerts ?? []).length > 0), `${alert}: a test where it fires`).toBe(true);
      expect(cases.some((t) => (t.exp_alerts ?? []).length === 0), `${alert}: a test where it must not fire`).toBe(true);
    }
    for (const t of alertTests) expect(alerts.map((a) => a.alert), `tested alert ${t.alertname} exists`).toContain(t.alertname);
  });

  it('tests every rule file', () => {
    const tested = new Set(testFiles.flatMap((f) => f.rule_files.map((r) => basename(r))));
    for (const { file } of ruleFiles()) expect(tested, `${basename(file)} has a test file`).toContain(basename(file));
  });

  it('gives every alert a severity, summary, description and a runbook section that exists', () => {
    const runbook = readFileSync(runbookFile, 'utf8');
    const anchors = new Set([...runbook.matchAll(/^#{2,3} (.+)$/gm)].map((m) => anchorOf(m[1]!)));
    for (const rule of alerts) {
      const name = rule.alert!;
      expect(SEVERITIES.has(rule.labels?.severity ?? ''), `${name}: severity page or ticket`).toBe(true);
      expect(rule.annotations?.summary, `${name}: summary`).toBeTruthy();
      expect(rule.annotations?.description, `${name}: description`).toBeTruthy();
      const url = rule.annotations?.runbook_url ?? '';
      expect(url, `${name}: runbook_url`).toBe(`docs/runbooks/alerts.md#${name.toLowerCase()}`);
      expect(anchors.has(name.toLowerCase()), `${name}: a "## ${name}" section in docs/runbooks/alerts.md`).toBe(true);
      // Each section says what it means, how to check and how to fix.
      const section = runbook.split(/^## /m).find((s) => s.startsWith(`${name}\n`)) ?? '';
      for (const part of ['What it means', 'How to check', 'How to fix']) expect(section, `${name}: "${part}"`).toContain(part);
    }
  });
});

describe('Alertmanager routing (deploy/observability/alertmanager/alertmanager.yml)', () => {
  interface Route {
    receiver?: string;
    matchers?: string[];
    routes?: Route[];
  }
  const config = parse(readFileSync(join(root, 'deploy', 'observability', 'alertmanager', 'alertmanager.yml'), 'utf8')) as {
    route: Route;
    receivers: { name: string }[];
    inhibit_rules?: { source_matchers: string[]; target_matchers: string[] }[];
  };

  it('passes amtool check-config', () => {
    const amtool = ensureAmtool({ install: false });
    const result = runPromtool(amtool, ['check-config', join(root, 'deploy', 'observability', 'alertmanager', 'alertmanager.yml')]);
    expect(result.status, `${promtoolVersion(amtool)}\n${result.output}`).toBe(0);
    expect(result.output).toContain('SUCCESS');
  });

  it('routes every severity the rules use to its own receiver, and every receiver exists', () => {
    const receivers = new Set(config.receivers.map((r) => r.name));
    const routes = config.route.routes ?? [];
    for (const severity of new Set(alerts.map((a) => a.labels!.severity!))) {
      const route = routes.find((r) => r.matchers?.includes(`severity="${severity}"`));
      expect(route?.receiver, `a route for severity=${severity}`).toBe(severity);
    }
    for (const receiver of [config.route.receiver, ...routes.map((r) => r.receiver)]) expect(receivers, `receiver ${receiver}`).toContain(receiver);
  });

  it('inhibits only by alert names and labels that the rules have', () => {
    const names = new Set(alerts.map((a) => a.alert));
    for (const rule of config.inhibit_rules ?? []) {
      for (const matcher of [...rule.source_matchers, ...rule.target_matchers]) {
        const name = /^alertname="(.+)"$/.exec(matcher)?.[1];
        if (name) expect(names, matcher).toContain(name);
        const slo = /^slo="(.+)"$/.exec(matcher)?.[1];
        if (slo) expect(alerts.some((a) => a.labels?.slo === slo), matcher).toBe(true);
      }
    }
  });
});

describe('Prometheus configuration (deploy/prometheus/prometheus.yml)', () => {
  let dir: string;
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('passes promtool check config with the rules where compose mounts them, and sends alerts to Alertmanager', () => {
    const promtool = ensurePromtool({ install: false });
    // As the container sees it: /etc/prometheus/prometheus.yml and /etc/prometheus/rules/.
    dir = mkdtempSync(join(tmpdir(), 'prometheus-config-'));
    const configFile = join(root, 'deploy', 'prometheus', 'prometheus.yml');
    cpSync(configFile, join(dir, 'prometheus.yml'));
    cpSync(rulesDir, join(dir, 'rules'), { recursive: true });
    const result = runPromtool(promtool, ['check', 'config', join(dir, 'prometheus.yml')]);
    expect(result.status, result.output).toBe(0);
    expect(result.output).toMatch(/SUCCESS: \d+ rules found/);
    const config = parse(readFileSync(configFile, 'utf8')) as { rule_files?: string[]; alerting?: { alertmanagers?: { static_configs?: { targets: string[] }[] }[] } };
    expect(config.rule_files).toEqual(['rules/*.yml']);
    expect(config.alerting?.alertmanagers?.[0]?.static_configs?.[0]?.targets).toEqual(['alertmanager:9093']);
  });
});
