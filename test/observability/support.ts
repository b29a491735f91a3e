// Readers of the observability files (Prometheus rules and their promtool
// tests, Grafana dashboards) and a PromQL metric-name extractor, shared by the
// tests in this folder.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

export const root = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
export const observabilityDir = join(root, 'deploy', 'observability');
export const rulesDir = join(observabilityDir, 'prometheus', 'rules');
export const ruleTestsDir = join(observabilityDir, 'prometheus', 'tests');
export const dashboardsDir = join(observabilityDir, 'grafana', 'dashboards');
export const runbookFile = join(root, 'docs', 'runbooks', 'alerts.md');

export interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
export interface RuleFile {
  file: string;
  groups: { name: string; rules: Rule[] }[];
}

const yamlFiles = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.yml') || f.endsWith('.yaml'))
    .sort()
    .map((f) => join(dir, f));

export function ruleFiles(): RuleFile[] {
  return yamlFiles(rulesDir).map((file) => ({ file, ...(parse(readFileSync(file, 'utf8')) as Omit<RuleFile, 'file'>) }));
}

export function ruleTestFiles(): string[] {
  return yamlFiles(ruleTestsDir);
}

export function allRules(): Rule[] {
  return ruleFiles().flatMap((f) => f.groups.flatMap((g) => g.rules));
}

export interface Dashboard {
  file: string;
  uid: string;
  title: string;
  /** Every PromQL expression in the dashboard (panel targets and template variable queries). */
  expressions: string[];
  json: Record<string, unknown>;
}

interface Panel {
  type?: string;
  title?: string;
  datasource?: { type?: string; uid?: string } | string;
  targets?: { expr?: string; datasource?: { type?: string; uid?: string } }[];
  panels?: Panel[];
}

function panelExpressions(panels: Panel[] = []): string[] {
  return panels.flatMap((p) => [...(p.targets ?? []).map((t) => t.expr).filter((e): e is string => !!e), ...panelExpressions(p.panels)]);
}

export function dashboards(): Dashboard[] {
  return readdirSync(dashboardsDir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const file = join(dashboardsDir, f);
      const json = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown> & {
        uid: string;
        title: string;
        panels?: Panel[];
        templating?: { list?: { type?: string; query?: string | { query?: string } }[] };
      };
      const variables = (json.templating?.list ?? [])
        .filter((v) => v.type === 'query')
        .map((v) => (typeof v.query === 'string' ? v.query : (v.query?.query ?? '')))
        .map((q) => /^label_values\((.*),\s*[a-zA-Z_]+\)$/.exec(q)?.[1] ?? /^query_result\((.*)\)$/.exec(q)?.[1] ?? q)
        .filter((q) => q.length > 0);
      return { file, uid: json.uid, title: json.title, expressions: [...panelExpressions(json.panels), ...variables], json };
    });
}

/** PromQL words that may stand where a metric name does. */
const PROMQL_WORDS = new Set([
  'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan',
  'sum', 'min', 'max', 'avg', 'count', 'stddev', 'stdvar', 'topk', 'bottomk', 'quantile', 'count_values', 'group',
]);

/**
 * Metric names a PromQL expression selects: identifiers not followed by `(`
 * (functions), not label names inside {...} or by/on (...) lists, not keywords;
 * ranges, strings and Grafana variables ($__rate_interval) removed first.
 */
export function metricNames(expr: string): string[] {
  const text = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\$\{?[A-Za-z_][A-Za-z0-9_]*\}?/g, '1m')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\{[^}]*\}/g, '{}')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const match of text.matchAll(/(?<![A-Za-z0-9_:.])([A-Za-z_:][A-Za-z0-9_:]*)(?=\s*(\(|\{|\)|\s|$|[-+*/%^<>=!,]))/g)) {
    const name = match[1]!;
    if (match[2] === '(' || PROMQL_WORDS.has(name.toLowerCase())) continue;
    if (/^\d/.test(name) || /^(e|E)\d+$/.test(name)) continue;
    names.add(name);
  }
  return [...names];
}

/** The metric family a sample name belongs to (histogram/summary series carry suffixes). */
export function familyOf(name: string): string[] {
  const bases = [name];
  for (const suffix of ['_bucket', '_count', '_sum', '_created', '_total']) if (name.endsWith(suffix)) bases.push(name.slice(0, -suffix.length));
  return bases;
}
