#!/usr/bin/env node
// CPU per call of two costs every TransferMoney paid before issue #14, next to what it pays now,
// measured in one process, interleaved (before, after, before, after), with process.cpuUsage: robust on
// a busy machine, unlike throughput. Not part of `npm test`. Build first: npx tsc -b packages/platform.
//   node services/bank-service/bench/per-call-costs.mjs [--calls 20000] [--rounds 4]
// - caller identity: grpc-js's getAuthContext() parses the client certificate (TLSSocket.getPeerCertificate,
//   with its fingerprints) on every call; now the service name is remembered per HTTP/2 session.
// - cancellation: an AbortController per call, aborted when grpc-js reports the stream's close as
//   'cancelled' (a DOMException), with the queue's listener; now a plain object and no abort after answering.
import { EventEmitter } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { parseArgs } from 'node:util';
import { certificateDnsNames } from '@wallet/platform/tls';
import { ensurePki } from '../../../scripts/lib/pki.mjs';

const { values } = parseArgs({ options: { calls: { type: 'string', default: '20000' }, rounds: { type: 'string', default: '4' } } });
const calls = Number(values.calls);
const dir = mkdtempSync(join(tmpdir(), 'bank-per-call-'));
try {
  const pki = await ensurePki({ dir, services: ['bank-service', 'api-gateway'] });
  const files = (service) => ({ key: readFileSync(pki.services[service].keyFile), cert: readFileSync(pki.services[service].certFile), ca: readFileSync(pki.caFile) });
  const server = tls.createServer({ ...files('bank-service'), requestCert: true, rejectUnauthorized: true });
  const accepted = new Promise((resolve) => server.once('secureConnection', resolve));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = tls.connect({ port: server.address().port, host: '127.0.0.1', ...files('api-gateway'), checkServerIdentity: () => undefined });
  const socket = await accepted;

  const names = new WeakMap();
  const session = {};
  const identityBefore = () => certificateDnsNames(socket.getPeerCertificate()).find((name) => name !== 'localhost');
  const identityAfter = () => {
    let name = names.get(session);
    if (name === undefined) names.set(session, (name = identityBefore()));
    return name;
  };
  const cancellationBefore = () => {
    const controller = new AbortController();
    controller.signal.addEventListener('abort', () => {}, { once: true });
    controller.abort();
  };
  const cancellationAfter = () => {
    const call = new EventEmitter();
    let aborted = false;
    let listeners;
    const onCancelled = () => (aborted = true);
    call.once('cancelled', onCancelled);
    const signal = {
      get aborted() {
        return aborted;
      },
      addEventListener: (_type, listener) => (listeners ??= []).push(listener),
      removeEventListener: (_type, listener) => listeners?.splice(listeners.indexOf(listener), 1),
    };
    const listener = () => {};
    signal.addEventListener('abort', listener);
    signal.removeEventListener('abort', listener);
    call.removeListener('cancelled', onCancelled);
  };
  const cpuUsPerCall = (fn) => {
    const start = process.cpuUsage();
    for (let i = 0; i < calls; i += 1) fn();
    const used = process.cpuUsage(start);
    return Number(((used.user + used.system) / calls).toFixed(2));
  };
  for (const fn of [identityBefore, identityAfter, cancellationBefore, cancellationAfter]) cpuUsPerCall(fn); // warm-up
  const rows = [];
  for (let round = 1; round <= Number(values.rounds); round += 1) {
    rows.push({
      round,
      'identity before (µs)': cpuUsPerCall(identityBefore),
      'identity after (µs)': cpuUsPerCall(identityAfter),
      'cancellation before (µs)': cpuUsPerCall(cancellationBefore),
      'cancellation after (µs)': cpuUsPerCall(cancellationAfter),
    });
  }
  console.table(rows);
  client.destroy();
  server.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
