import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import { listenHttp } from './http-listen.js';

export type ReadinessCheck = () => Promise<Record<string, string>>;

export interface OpsServer {
  server: Server;
  port: number;
  close(): Promise<void>;
}

/**
 * The operational HTTP endpoints of a service that otherwise speaks gRPC:
 * GET /healthz (live), GET /readyz (dependencies reachable), GET /metrics.
 * readiness resolves to {name: "ok" | reason}; any non-"ok" value is a 503.
 * detail (optional) adds facts that never decide readiness (breaker states,
 * a relay's role), so a replica is not taken out for what it only reports.
 */
export async function startOpsServer(options: {
  host: string;
  port: number;
  registry: Registry;
  readiness: ReadinessCheck;
  readinessTimeoutMs?: number;
  detail?: () => Record<string, unknown>;
}): Promise<OpsServer> {
  const timeoutMs = options.readinessTimeoutMs ?? 2000;
  const server = createServer((req, res) => {
    const send = (status: number, body: unknown, type = 'application/json') => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(typeof body === 'string' ? body : JSON.stringify(body));
    };
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') return send(405, { status: 'method not allowed' });
    if (path === '/healthz') return send(200, { status: 'ok' });
    if (path === '/metrics') {
      options.registry
        .metrics()
        .then((text) => send(200, text, options.registry.contentType))
        .catch(() => send(500, { status: 'metrics unavailable' }));
      return;
    }
    if (path === '/readyz') {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<Record<string, string>>((resolve) => {
        timer = setTimeout(() => resolve({ readiness: 'timeout' }), timeoutMs);
      });
      Promise.race([options.readiness(), timeout])
        .then((checks) => {
          const ok = Object.values(checks).every((v) => v === 'ok');
          send(ok ? 200 : 503, { status: ok ? 'ok' : 'unavailable', checks, ...(options.detail ? { detail: options.detail() } : {}) });
        })
        .catch((error: unknown) =>
          send(503, { status: 'unavailable', checks: { readiness: String((error as Error)?.message ?? error) } }),
        )
        .finally(() => clearTimeout(timer));
      return;
    }
    return send(404, { status: 'not found' });
  });
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  return listenHttp(server, options.host, options.port);
}
