// System state (GET /admin/system, contract C-W2), refreshed live. The last
// good figures stay on screen, marked stale, when a refresh fails.
import { useEffect, useState } from 'preact/hooks';
import { Card, Notice } from '../ui/components';
import { useSession } from '../ui/session';

export const REFRESH_INTERVAL_MS = 5_000;

export interface SystemState {
  services: { name: string; instance: string; ready: boolean; detail?: unknown }[];
  // null: no instance of the service that reports it answered /metrics.
  outbox: { pending: number | null; oldestAgeSeconds: number | null };
  consumerLag: { total: number | null; partitions: unknown[] };
  stuckTopUps: { count: number | null; oldestAgeSeconds: number | null };
  dlq: { count: number | null };
  errorRate: { windowSeconds: number; requests: number; serverErrors: number };
  at: string;
}

function age(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return 'none';
  if (seconds < 120) return `${Math.round(seconds)} s`;
  return `${Math.round(seconds / 60)} min`;
}

const UNKNOWN = 'unknown';
const count = (value: number | null): string => (value === null ? UNKNOWN : String(value));
const above = (value: number | null, limit: number): boolean => value === null || value > limit;

function errorRateText(rate: SystemState['errorRate']): string {
  if (rate.requests === 0) return 'none';
  // A percentage with one decimal, from integers: display only.
  const perMille = Math.round((rate.serverErrors * 1000) / rate.requests);
  return `${Math.floor(perMille / 10)}.${perMille % 10} %`;
}

function detailText(detail: unknown): string {
  if (detail === undefined || detail === null) return '';
  return typeof detail === 'string' ? detail : JSON.stringify(detail);
}

function Figure({ label, value, sub, warn, testId }: { label: string; value: string; sub?: string; warn?: boolean; testId: string }) {
  return (
    <div class={`figure${warn ? ' warn' : ''}`} data-testid={testId}>
      <dt>{label}</dt>
      <dd>
        <span class="figure-value">{value}</span>
        {sub && <span class="figure-sub">{sub}</span>}
      </dd>
    </div>
  );
}

export function SystemStatePanel() {
  const { call } = useSession();
  const [state, setState] = useState<SystemState>();
  const [error, setError] = useState<string>();
  const [live, setLive] = useState(true);
  useEffect(() => {
    let active = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = async () => {
      try {
        const res = await call<SystemState>('GET', '/admin/system');
        if (!active) return;
        setState(res.body);
        setError(undefined);
      } catch (e) {
        if (active) setError((e as Error).message);
      }
      if (active && live) timer = setTimeout(() => void tick(), REFRESH_INTERVAL_MS);
    };
    void tick();
    return () => {
      active = false;
      clearTimeout(timer);
    };
  }, [call, live]);

  return (
    <Card title="System state">
      <div class="toolbar">
        <button type="button" class="secondary" aria-pressed={live} onClick={() => setLive(!live)}>
          {live ? 'Pause live refresh' : 'Resume live refresh'}
        </button>
        <span class="hint" aria-live="polite" data-testid="system-updated">
          {state ? `Updated ${new Date(state.at).toLocaleTimeString('en', { timeZone: 'UTC' })} UTC${live ? `, every ${REFRESH_INTERVAL_MS / 1000} s` : ', paused'}` : ''}
        </span>
      </div>
      {error && <Notice kind="error">Could not refresh the system state: {error}{state ? ' (showing the last figures)' : ''}</Notice>}
      {!state && !error && <Notice kind="busy">Loading the system state…</Notice>}
      {state && (
        <>
          <dl class="figures">
            <Figure testId="outbox" label="Outbox pending" value={count(state.outbox.pending)} sub={state.outbox.pending === null ? 'bank metrics not answering' : `oldest ${age(state.outbox.oldestAgeSeconds)}`} warn={above(state.outbox.pending, 1000)} />
            <Figure testId="consumer-lag" label="Consumer lag" value={count(state.consumerLag.total)} sub={state.consumerLag.total === null ? 'analytics metrics not answering' : `${state.consumerLag.partitions.length} partitions`} warn={above(state.consumerLag.total, 1000)} />
            <Figure testId="stuck-topups" label="Stuck top-ups" value={count(state.stuckTopUps.count)} sub={state.stuckTopUps.count === null ? 'card adapter metrics not answering' : `oldest ${age(state.stuckTopUps.oldestAgeSeconds)}`} warn={above(state.stuckTopUps.count, 0)} />
            <Figure testId="dlq" label="Dead letters" value={count(state.dlq.count)} warn={above(state.dlq.count, 0)} />
            <Figure
              testId="error-rate"
              label="Server errors"
              value={errorRateText(state.errorRate)}
              sub={`${state.errorRate.serverErrors} of ${state.errorRate.requests} requests in ${state.errorRate.windowSeconds} s`}
              warn={state.errorRate.serverErrors > 0}
            />
          </dl>
          <table class="services" data-testid="services">
            <caption>Services</caption>
            <thead>
              <tr>
                <th scope="col">Service</th>
                <th scope="col">Instance</th>
                <th scope="col">Ready</th>
                <th scope="col">Detail</th>
              </tr>
            </thead>
            <tbody>
              {state.services.map((s) => (
                <tr key={`${s.name}/${s.instance}`}>
                  <th scope="row">{s.name}</th>
                  <td>{s.instance}</td>
                  <td class={s.ready ? 'ok' : 'bad'}>{s.ready ? 'ready' : 'NOT ready'}</td>
                  <td class="detail">{detailText(s.detail)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </Card>
  );
}
