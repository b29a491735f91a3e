// Money in and out per month (GET /summary?granularity=month) as a bar chart,
// with the same figures as a table for screen readers. Chart.js draws on a
// canvas (no inline styles or scripts: fine under the app's CSP); values are
// plotted in minor units (integers), labelled with the exact decimal strings.
import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, Tooltip } from 'chart.js';
import { useEffect, useRef, useState } from 'preact/hooks';
import { formatMinor, parseAmountMinor } from '../lib/money';
import { monthStart } from '../lib/queries';
import { Notice } from '../ui/components';
import { useSession } from '../ui/session';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Tooltip, Legend);

const MONTHS_SHOWN = 12;

interface Summary {
  currency: string;
  totalIn: string;
  totalOut: string;
  buckets: { periodStart: string; totalIn: string; totalOut: string; countIn: number; countOut: number }[];
}

const monthLabel = (iso: string) => new Date(iso).toLocaleDateString('en', { month: 'short', year: 'numeric', timeZone: 'UTC' });
const minorNumber = (amount: string) => Number(parseAmountMinor(amount) ?? 0n);

export function MonthlyChart({ accountId, version }: { accountId: string; version: number }) {
  const { call } = useSession();
  const canvas = useRef<HTMLCanvasElement>(null);
  const [summary, setSummary] = useState<Summary>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    let live = true;
    const now = new Date();
    const query = new URLSearchParams({ from: monthStart(now, 1 - MONTHS_SHOWN).toISOString(), to: monthStart(now, 1).toISOString(), granularity: 'month' });
    setError(undefined);
    call<Summary>('GET', `/accounts/${accountId}/summary?${query}`).then(
      (res) => live && setSummary(res.body),
      (e: Error) => live && setError(e.message),
    );
    return () => {
      live = false;
    };
  }, [call, accountId, version]);

  useEffect(() => {
    if (!summary || !canvas.current) return;
    const chart = new Chart(canvas.current, {
      type: 'bar',
      data: {
        labels: summary.buckets.map((b) => monthLabel(b.periodStart)),
        datasets: [
          { label: 'In', data: summary.buckets.map((b) => minorNumber(b.totalIn)), backgroundColor: '#1b7f3b' },
          { label: 'Out', data: summary.buckets.map((b) => minorNumber(b.totalOut)), backgroundColor: '#b3261e' },
        ],
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        scales: { y: { beginAtZero: true, ticks: { callback: (value) => formatMinor(BigInt(Math.round(Number(value)))) } } },
        plugins: {
          tooltip: { callbacks: { label: (item) => `${item.dataset.label}: ${formatMinor(BigInt(Math.round(item.parsed.y ?? 0)))} ${summary.currency}` } },
        },
      },
    });
    return () => chart.destroy();
  }, [summary]);

  return (
    <div class="chart-block">
      <h3>Money in and out per month</h3>
      {error && <Notice kind="error">Could not load the monthly summary: {error}</Notice>}
      {!summary && !error && <Notice kind="busy">Loading the monthly summary…</Notice>}
      <div class="chart-box">
        <canvas ref={canvas} role="img" aria-label="Bar chart of money in and out per month; the figures are in the table below" data-testid="monthly-chart" />
      </div>
      {summary && (
        <details>
          <summary>Figures</summary>
          <table>
            <thead>
              <tr>
                <th scope="col">Month</th>
                <th scope="col">In ({summary.currency})</th>
                <th scope="col">Out ({summary.currency})</th>
              </tr>
            </thead>
            <tbody>
              {summary.buckets.map((b) => (
                <tr key={b.periodStart}>
                  <th scope="row">{monthLabel(b.periodStart)}</th>
                  <td>{b.totalIn}</td>
                  <td>{b.totalOut}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      )}
    </div>
  );
}
