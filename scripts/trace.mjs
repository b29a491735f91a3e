#!/usr/bin/env node
// `npm run trace -- <request id or trace id> [--data-dir <dir>]`: prints the
// trace of one request from the spans `npm start -- --traces` wrote under
// <data-dir>/traces (issue 12) as an indented tree. A request id is the
// X-Request-Id of a response (the HTTP SERVER span carries it as
// wallet.request_id); a trace id is the response's X-Trace-Id. Traces that a
// span of it links to, or that link to it (the group-commit batch, the outbox
// relay cycle), are printed after it.
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { readSpans, spanFiles } from './lib/otlp-receiver.mjs';
import { root } from './lib/paths.mjs';
import { carriesRequestId, formatTrace, traceIdsFor } from './lib/trace-tree.mjs';

/** Linked traces printed after the main one, at most. */
const LINKED_TRACES_MAX = 5;

function fail(message, code = 1) {
  process.stderr.write(`npm run trace: ${message}\n`);
  process.exit(code);
}

function options() {
  try {
    const { values, positionals } = parseArgs({ options: { 'data-dir': { type: 'string' } }, allowPositionals: true, strict: true });
    if (positionals.length !== 1) throw new Error('give exactly one request id or trace id');
    const dataDir = resolve(values['data-dir'] ?? process.env.WALLET_DATA_DIR ?? join(root, '.data'));
    return { id: positionals[0].trim(), dir: join(dataDir, 'traces') };
  } catch (error) {
    return fail(`${error.message} (usage: npm run trace -- <X-Request-Id or X-Trace-Id> [--data-dir <dir>])`, 2);
  }
}

async function main() {
  const { id, dir } = options();
  if ((await spanFiles(dir)).length === 0) fail(`no spans in ${dir}: start the system with \`npm start -- --traces\` and send a request`);
  const lowered = id.toLowerCase();
  // Two passes keep memory to the traces asked for: which trace ids, then their spans.
  const marks = await readSpans(dir, { filter: (s) => s.traceId === lowered || carriesRequestId(s, id) });
  const traceIds = traceIdsFor(marks, id);
  if (traceIds.length === 0) fail(`no span carries "${id}" as trace id or request id in ${dir} (spans are exported about a second after a request ends)`);
  const spans = await readSpans(dir, { filter: (s) => traceIds.includes(s.traceId) });
  const spanIds = new Set(spans.map((s) => s.spanId));
  const linkedIds = new Set(spans.flatMap((s) => s.links.map((l) => l.traceId)).filter((t) => t && !traceIds.includes(t)));
  const linking = await readSpans(dir, { filter: (s) => !traceIds.includes(s.traceId) && s.links.some((l) => spanIds.has(l.spanId)) });
  for (const s of linking) linkedIds.add(s.traceId);
  const shown = new Set([...linkedIds].slice(0, LINKED_TRACES_MAX));
  const linked = shown.size ? await readSpans(dir, { filter: (s) => shown.has(s.traceId) }) : [];
  for (const traceId of traceIds) {
    for (const line of formatTrace(spans.filter((s) => s.traceId === traceId), { known: linked })) process.stdout.write(`${line}\n`);
  }
  for (const traceId of shown) {
    process.stdout.write('\nlinked ');
    for (const line of formatTrace(linked.filter((s) => s.traceId === traceId), { known: spans })) process.stdout.write(`${line}\n`);
  }
  if (linkedIds.size > shown.size) process.stdout.write(`\n(${linkedIds.size - shown.size} more linked traces not shown)\n`);
}

main().catch((error) => fail(String(error?.message ?? error)));
