// The cost of token checks, measured on their own (like the mTLS and tracing
// comparisons): CPU per `verify` of the platform's verifier
// (`createTokenVerifier` of @wallet/platform/auth, the one the gateway and the
// bank use), with its verified-token cache (a hit: SHA-256 of the token and a
// map lookup) and without it (an ES256 signature check), in the load
// generator's process, one call at a time, against the run's own issuer.
// Combined with the cache hit rate each service reports at the peak
// (bench/lib/ops-metrics.mjs), it estimates the token checks' share of the
// CPU per transfer. The arithmetic is pure (unit-tested in test/bench/).
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

/** Services that verify the caller's token on a REST transfer: the gateway, then the bank again. */
export const VERIFYING_SERVICES = Object.freeze(['api-gateway', 'bank-service']);

/** The `iss` and `aud` of a JWT (not verified: only to build a verifier for the same issuer). */
export function tokenIssuer(token) {
  const part = String(token).split('.')[1];
  if (!part) throw new Error('not a JWT');
  const payload = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  const audience = Array.isArray(payload.aud) ? payload.aud[0] : payload.aud;
  if (typeof payload.iss !== 'string' || typeof audience !== 'string') throw new Error('the token names no issuer or audience');
  return { issuer: payload.iss, audience };
}

/** CPU µs of one verification at a cache hit rate (0..1): hits cost `cachedCpuUs`, misses `uncachedCpuUs`. */
export function verifyCpuUs({ cachedCpuUs, uncachedCpuUs }, hitRate) {
  const h = Math.min(1, Math.max(0, hitRate));
  return h * cachedCpuUs + (1 - h) * uncachedCpuUs;
}

/**
 * CPU ms per REST transfer spent on token checks: one verification in each
 * verifying service at that service's hit rate (unknown rate: counted as all
 * misses, the upper bound, and said so).
 * @param {{ cachedCpuUs: number, uncachedCpuUs: number }} cost
 * @param {Record<string, number | null | undefined>} hitRates  per service
 */
export function tokenChecksPerTransfer(cost, hitRates, services = VERIFYING_SERVICES) {
  let us = 0;
  const assumed = [];
  for (const service of services) {
    const rate = hitRates?.[service];
    if (rate === null || rate === undefined) assumed.push(service);
    us += verifyCpuUs(cost, rate ?? 0);
  }
  return { cpuMs: Math.round(us) / 1000, missesAssumedFor: assumed };
}

async function cpuPerCall(fn, iterations) {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < iterations; i += 1) await fn();
  const cpu = process.cpuUsage(cpu0);
  const wallMs = performance.now() - t0;
  return { cpuUs: Math.round(((cpu.user + cpu.system) / iterations) * 100) / 100, perS: Math.round((iterations / wallMs) * 1000) };
}

/**
 * Verifies `token` `iterations` times with and without the verified-token cache.
 * @param {{ token: string, caFile?: string, iterationsCached?: number, iterationsUncached?: number }} options
 */
export async function measureTokenCost({ token, caFile, iterationsCached = 20_000, iterationsUncached = 2_000 }) {
  const { createTokenVerifier } = await import('@wallet/platform/auth');
  const { issuer, audience } = tokenIssuer(token);
  const common = { issuer, audience, ...(caFile ? { caCertificates: readFileSync(caFile) } : {}) };
  const cachedVerifier = createTokenVerifier(common);
  const uncachedVerifier = createTokenVerifier({ ...common, verifiedCacheSizeMax: 0 });
  try {
    // Discovery and the key set are fetched once, then the JIT warms up: not measured.
    for (let i = 0; i < 200; i += 1) {
      await cachedVerifier.verify(token);
      await uncachedVerifier.verify(token);
    }
    const uncached = await cpuPerCall(() => uncachedVerifier.verify(token), iterationsUncached);
    const cached = await cpuPerCall(() => cachedVerifier.verify(token), iterationsCached);
    return {
      cachedCpuUs: cached.cpuUs,
      uncachedCpuUs: uncached.cpuUs,
      cachedPerS: cached.perS,
      uncachedPerS: uncached.perS,
      iterationsCached,
      iterationsUncached,
      issuer,
    };
  } finally {
    await cachedVerifier.close?.();
    await uncachedVerifier.close?.();
  }
}
