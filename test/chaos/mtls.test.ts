// The chaos suite's mutual-TLS checks (issue 11), pure: which service log
// lines mean a correctly configured caller was refused, and where the
// certificate rotations sit in a round.
import { describe, expect, it } from 'vitest';
import { checkTlsProblems, tlsProblemOf } from '../../scripts/chaos/model.mjs';
import { ROTATED_SERVICES, scheduleRound } from '../../scripts/chaos/faults.mjs';

const json = (entry: Record<string, unknown>) => JSON.stringify({ time: '2026-12-02T01:00:00.000Z', service: 'api-gateway', ...entry });

describe('tlsProblemOf', () => {
  it('counts a caller refused by a caller table, whatever the service calls it', () => {
    expect(tlsProblemOf(json({ level: 'warn', method: 'DepositMoney', caller: 'api-gateway', reason: 'CALLER_NOT_ALLOWED', msg: 'gRPC caller refused by the caller table' }))).toBe('caller refused');
    expect(tlsProblemOf(json({ level: 'warn', rpc: 'getOperations', caller: null, reason: 'CALLER_UNAUTHENTICATED', msg: 'grpc caller refused' }))).toBe('caller refused');
  });

  it('counts a warning or error naming a certificate or handshake failure (the UNAVAILABLE a retry would hide)', () => {
    const unavailable = (details: string) => json({ level: 'warn', err: { code: 14, details }, msg: 'bank call failed' });
    expect(tlsProblemOf(unavailable('No connection established. Last error: Error: self-signed certificate in certificate chain'))).toBe('TLS handshake refused');
    expect(tlsProblemOf(unavailable('No connection established. Last error: Error: certificate has expired'))).toBe('TLS handshake refused');
    expect(tlsProblemOf(unavailable('Last error: 40C8F7B1:error:0A000412:SSL routines:ssl3_read_bytes:sslv3 alert bad certificate'))).toBe('TLS handshake refused');
    expect(tlsProblemOf(unavailable("Hostname/IP does not match certificate's altnames: Host: bank-service. is not in the cert's altnames"))).toBe('TLS handshake refused');
    expect(tlsProblemOf(json({ level: 'error', err: { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', message: 'unable to verify the first certificate' }, msg: 'jwks fetch failed' }))).toBe('TLS handshake refused');
    // A crash's stack trace on stderr is not JSON: counted by its text.
    expect(tlsProblemOf('Error: tlsv13 alert certificate required')).toBe('TLS handshake refused');
  });

  it('ignores what a healthy run with kills and rotations logs', () => {
    expect(tlsProblemOf(json({ level: 'info', notAfter: '2027-03-01T00:00:00.000Z', certFile: '/tmp/pki/api-gateway.pem', msg: 'mutual TLS on' }))).toBeUndefined();
    expect(tlsProblemOf(json({ level: 'info', notAfter: '2027-02-01T00:00:00.000Z', msg: 'tls certificate reloaded' }))).toBeUndefined();
    // The provider keeps the current certificate on a half-written set (by design); the rotation fault checks the new one is served.
    expect(tlsProblemOf(json({ level: 'error', err: { message: 'x509 certificate routines::key values mismatch' }, msg: 'tls certificate reload failed; keeping the current certificate' }))).toBeUndefined();
    // A peer killed mid-handshake, or down: expected under the nemesis.
    expect(tlsProblemOf(json({ level: 'warn', err: { code: 14, details: 'Client network socket disconnected before secure TLS connection was established' }, msg: 'bank unavailable' }))).toBeUndefined();
    expect(tlsProblemOf(json({ level: 'warn', err: { code: 14, details: 'No connection established. Last error: connect ECONNREFUSED 127.0.0.1:50051' }, msg: 'bank unavailable' }))).toBeUndefined();
    expect(tlsProblemOf(json({ level: 'warn', err: { code: 14, details: 'Last error: Error: error:0A000126:SSL routines::unexpected eof while reading' }, msg: 'bank unavailable' }))).toBeUndefined();
    expect(tlsProblemOf('')).toBeUndefined();
  });
});

describe('checkTlsProblems', () => {
  it('reports one violation per service and kind, with the count and the first line', () => {
    const line = json({ level: 'warn', reason: 'CALLER_NOT_ALLOWED', msg: 'gRPC caller refused by the caller table' });
    const violations = checkTlsProblems([
      { service: 'bank-service', kind: 'caller refused', line },
      { service: 'bank-service', kind: 'caller refused', line: '' },
      { service: 'api-gateway', kind: 'TLS handshake refused', line: 'certificate has expired' },
    ]);
    expect(violations).toHaveLength(2);
    expect(violations[0]!.invariant).toMatch(/correct callers accepted/);
    expect(violations[0]!.detail).toContain('bank-service: 2 × caller refused; first: ');
    expect(violations[0]!.detail).toContain('CALLER_NOT_ALLOWED');
    expect(violations[1]!.invariant).toMatch(/TLS handshakes succeed/);
    expect(checkTlsProblems([])).toEqual([]);
  });
});

describe('scheduleRound: certificate rotations', () => {
  const keys = ['identity', 'bank', 'paymentGatewayMock', 'analytics', 'cardAdapter', 'gateway'];

  it('rotates every gRPC service before its kill, on the same track, so the kills make clients reconnect with new certificates', () => {
    const [services, data] = scheduleRound(keys, { pauseMs: 4_000, tracks: 2 });
    const names = services!.map((f) => f.name);
    const rotations = names.filter((n) => n.startsWith('rotate certificate'));
    expect(rotations).toEqual(ROTATED_SERVICES.filter((key) => key !== 'analytics' && keys.includes(key)).map((key) => `rotate certificate ${key}`));
    expect(names.findIndex((n) => n.startsWith('kill -9'))).toBeGreaterThan(names.lastIndexOf(rotations.at(-1)!));
    expect(services!.find((f) => f.name === 'rotate certificate bank')).toMatchObject({ kind: 'rotateCertificate', arg: 'bank', affects: 'transfer' });
    // Analytics is killed on the data track: rotated there, first (a SIGHUP while it restarts would end it).
    expect(data!.slice(0, 2).map((f) => f.name)).toEqual(['rotate certificate analytics', 'kill -9 analytics']);
  });

  it('rotates only services that run, the HTTPS ones when asked, and none when asked not to', () => {
    const [track] = scheduleRound(['identity', 'bank', 'gateway'], { pauseMs: 4_000 });
    expect(track!.filter((f) => f.kind === 'rotateCertificate').map((f) => f.arg)).toEqual(['gateway', 'bank']);
    const withHttps = scheduleRound(keys, { pauseMs: 4_000, rotate: [...ROTATED_SERVICES, 'identity'] }).flat();
    expect(withHttps.find((f) => f.name === 'rotate certificate identity')).toMatchObject({ affects: 'login' });
    expect(scheduleRound(keys, { pauseMs: 4_000, rotate: false }).flat().some((f) => f.kind === 'rotateCertificate')).toBe(false);
  });
});
