// Card numbers and CVCs are never written anywhere (issue 11): a top-up with a
// known card number and CVC goes through the REST API of the running system
// (gateway -> card adapter -> payment gateway mock -> bank -> Kafka ->
// analytics), plus requests the services refuse (their error answers must not
// echo the card either); then every place the system writes is scanned:
//   - every service's log file (all output, LOG_LEVEL info: access lines too),
//   - every row of every PostgreSQL table in every schema (row_to_json),
//   - every message (key, headers, value) of every Kafka topic on the broker,
//   - every row of every ClickHouse table (the analytics-service's chDB),
//   - every span every service exported (issue 12: OTLP to an in-process
//     receiver): name, attributes, events, links, status message, resource,
// for the card number (digits, grouped by spaces or dashes, hex, and any form
// with more than the last four digits; the last four alone are allowed) and
// the CVC (next to a CVC-like name: "cvc", "cvv", "security code", ...).
// The access tokens and passwords used must not appear in any of them either.
import { execFileSync } from 'node:child_process';
import { randomInt, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { listTopics, readAllRecords, waitFor } from '@wallet/testkit';
import { startOtlpReceiver, type OtlpReceiver } from '../../scripts/lib/otlp-receiver.mjs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCOUNT_A, ALICE, BOB, http, secretsInText, startSystem, type RunningSystem } from './harness.js';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');

function luhnCheckDigit(payload: string): string {
  let sum = 0;
  for (let i = 0; i < payload.length; i += 1) {
    let digit = Number(payload[payload.length - 1 - i]);
    if (i % 2 === 0) digit = digit * 2 > 9 ? digit * 2 - 9 : digit * 2;
    sum += digit;
  }
  return String((10 - (sum % 10)) % 10);
}

/**
 * A Visa number no fixture or other test uses (the mock charges every valid
 * number that is not one of its test cards), so a hit can only come from this
 * test's requests, even on the shared Kafka broker.
 */
function uniqueVisaNumber(): string {
  const payload = `4${Array.from({ length: 14 }, () => randomInt(10)).join('')}`;
  return payload + luhnCheckDigit(payload);
}

const PAN = uniqueVisaNumber();
const CVC = String(randomInt(100, 1000));
/** Refused before any charge (422 invalid-card-number): still never written. */
const BAD_LUHN_PAN = `${PAN.slice(0, 15)}${(Number(PAN[15]) + 1) % 10}`;
/** Five digits: refused by the request schema (400), whose answer must not echo it. */
const BAD_CVC = String(randomInt(10000, 100000));

/** The forms of a card number that give away more than its last four digits. */
function panForms(pan: string): Record<string, string> {
  const groups = pan.match(/.{1,4}/g)!;
  return {
    'card number (digits)': pan,
    'card number (spaces)': groups.join(' '),
    'card number (dashes)': groups.join('-'),
    'card number (hex of its digits)': Buffer.from(pan).toString('hex'),
    'card number without its last four (a BIN+middle prefix)': pan.slice(0, 12),
  };
}

const CVC_NEAR_NAME = /(cvc|cvv|cvn|csc|cid|card[_ -]?code|security[_ -]?code)\\?["']?\s*(?:[:=]|=>)\s*\\?["']?(\d{3,5})(?!\d)/gi;

/** Descriptions (never the values) of every card datum found in `text`. */
function cardDataIn(source: string, text: string): string[] {
  const leaks: string[] = [];
  for (const [label, pan] of [['top-up', PAN], ['refused', BAD_LUHN_PAN]] as const) {
    for (const [form, value] of Object.entries(panForms(pan))) if (text.includes(value)) leaks.push(`${source}: the ${label} ${form}`);
  }
  for (const match of text.matchAll(CVC_NEAR_NAME)) {
    if (match[2] === CVC || match[2] === BAD_CVC) leaks.push(`${source}: a CVC next to "${match[1]}"`);
  }
  return leaks;
}

const scan = (source: string, text: string) => [...cardDataIn(source, text), ...secretsInText(source, text)];

/** Every row of every table in every schema of the system's database, as JSON text, per table. */
async function postgresDump(url: string): Promise<Map<string, string>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows: tables } = await client.query<{ schema: string; name: string }>(
      `SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'`,
    );
    const dump = new Map<string, string>();
    for (const { schema, name } of tables) {
      const ident = `${client.escapeIdentifier(schema)}.${client.escapeIdentifier(name)}`;
      const { rows } = await client.query<{ row: string }>(`SELECT row_to_json(t)::text AS row FROM ${ident} t LIMIT 200000`);
      dump.set(`${schema}.${name}`, rows.map((r) => r.row).join('\n'));
    }
    return dump;
  } finally {
    await client.end();
  }
}

/** Every row of every non-system table of the embedded ClickHouse at `path` (the service must be stopped). */
function clickhouseDump(path: string): string {
  const script = `
    const { Session } = await import('chdb');
    const session = new Session(process.argv[1]);
    const lines = (sql) => session.query(sql, 'JSONEachRow').split('\\n').filter(Boolean).map((l) => JSON.parse(l));
    const tables = lines("SELECT database, name FROM system.tables WHERE database NOT IN ('system', 'INFORMATION_SCHEMA', 'information_schema') AND NOT is_temporary");
    process.stdout.write(JSON.stringify(tables) + '\\n');
    for (const t of tables) process.stdout.write(session.query('SELECT * FROM \`' + t.database + '\`.\`' + t.name + '\` LIMIT 200000', 'JSONEachRow'));
    session.close();
  `;
  return execFileSync(process.execPath, ['--input-type=module', '-e', script, path], { cwd: root, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, timeout: 120_000 });
}

describe('the scan itself', () => {
  it('finds the card number in every form it looks for and the CVC next to a CVC-like name, and allows the last four', () => {
    const grouped = PAN.match(/.{4}/g)!;
    expect(cardDataIn('t', `{"number":"${grouped.join(' ')}"}`)).toContain('t: the top-up card number (spaces)');
    for (const text of [PAN, grouped.join('-'), Buffer.from(PAN).toString('hex'), `${PAN.slice(0, 12)}****`, `{\\"cvc\\":\\"${CVC}\\"}`, `cvv=${CVC}`, `"card_code": ${BAD_CVC}`]) {
      expect(cardDataIn('t', text), text.length > 30 ? 'an encoded form' : 'a form').not.toEqual([]);
    }
    expect(cardDataIn('t', `{"cardLast4":"${PAN.slice(-4)}","amount":"${CVC}","cvc":"[Redacted]"}`)).toEqual([]);
  });
});

describe('card data and secrets are written nowhere', () => {
  let system: RunningSystem;
  let receiver: OtlpReceiver;
  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    system = await startSystem({
      analytics: true,
      cardAdapter: true,
      // Every span goes to the receiver (exported every 200 ms), sampled always: the scan sees them all.
      otel: { endpoint: receiver.url, env: { OTEL_BSP_SCHEDULE_DELAY: '200', OTEL_TRACES_SAMPLER: 'always_on' } },
    });
  });
  afterAll(async () => {
    await system?.stop();
    await receiver?.close();
  });

  const card = (number: string, cvc: string) => ({ number, expiryMonth: 12, expiryYear: new Date().getUTCFullYear() + 3, cvc, holderName: 'Ada Lovelace' });
  const topUp = async (body: unknown) =>
    http(system.baseUrl, 'POST', `/accounts/${ACCOUNT_A}/topup`, { body, headers: { 'Idempotency-Key': randomUUID(), ...(await system.as(ALICE)) } });

  it('finds neither the card number nor the CVC in any log, table, Kafka topic, ClickHouse table or exported span, and no token or password', async () => {
    const grouped = PAN.match(/.{4}/g)!.join(' ');
    const done = await topUp({ amount: '12.34', card: card(grouped, CVC) });
    expect(done.status, JSON.stringify(done.body)).toBe(201);
    expect(done.body).toMatchObject({ status: 'completed', cardLast4: PAN.slice(-4) });
    // Refused requests: their problem answers name the rule, never the card.
    const refusals = [
      await topUp({ amount: '1.00', card: card(BAD_LUHN_PAN, CVC) }),
      await topUp({ amount: '1.00', card: card(PAN, BAD_CVC) }),
      // Not alice's account's owner: refused before the card adapter.
      await http(system.baseUrl, 'POST', `/accounts/${ACCOUNT_A}/topup`, {
        body: { amount: '1.00', card: card(PAN, CVC) },
        headers: { 'Idempotency-Key': randomUUID(), ...(await system.as(BOB)) },
      }),
    ];
    expect(refusals.map((r) => r.status)).toEqual([422, 400, 404]);
    for (const answer of [done, ...refusals]) expect(scan('a REST answer', JSON.stringify(answer.body))).toEqual([]);

    // The top-up went all the way: through Kafka into ClickHouse.
    await waitFor(
      async () => {
        const page = await http(system.baseUrl, 'GET', `/accounts/${ACCOUNT_A}/operations?type=topup`, { headers: await system.as(ALICE) });
        return (page.body.items as { topUpId?: string }[]).some((o) => o.topUpId === done.body.id);
      },
      { what: 'the top-up in the history', timeoutMs: 60_000, intervalMs: 250 },
    );

    const leaks: string[] = [];
    const tables = await postgresDump(system.db.url);
    expect([...tables.keys()].some((name) => name.startsWith('bank.')), 'the dump covers the bank schema').toBe(true);
    for (const [table, text] of tables) leaks.push(...scan(`PostgreSQL ${table}`, text));

    const topics = await listTopics(system.kafkaBrokers.split(','));
    expect(topics).toContain(system.topic);
    let ownRecords = 0;
    for (const topic of topics) {
      // Other suites create and delete topics on the shared broker meanwhile: this system's must be read.
      const records = await readAllRecords(topic, system.kafkaBrokers.split(',')).catch((error: unknown) => {
        if (topic === system.topic || topic === `${system.topic}.dlq`) throw error;
        return [];
      });
      if (topic === system.topic) ownRecords = records.length;
      const text = records.map((r) => `${r.key ?? ''}\n${JSON.stringify(Object.fromEntries(r.headers))}\n${r.value.toString('utf8')}`).join('\n');
      leaks.push(...scan(`Kafka topic ${topic}`, text));
    }
    expect(ownRecords, 'the top-up event was on the operations topic').toBeGreaterThan(0);

    // chDB is one process's: the analytics-service lets go of it first.
    await system.processes.analytics!.stop();
    const history = clickhouseDump(system.chdbPath);
    expect(history).toContain(done.body.id as string);
    leaks.push(...scan('ClickHouse', history));

    for (const file of readdirSync(system.logDir)) leaks.push(...scan(`log ${file}`, readFileSync(join(system.logDir, file), 'utf8')));

    // Spans: the services have stopped (analytics) or flush within 200 ms; the top-up's trace reached the
    // payment gateway mock and the analytics-service (the scan looked at the spans of the card's path).
    await waitFor(() => ['bank-card-adapter', 'payment-gateway-mock', 'bank-service', 'analytics-service'].every((service) => receiver.spans.some((s) => s.service === service)), {
      what: 'spans of every service on the top-up path',
      timeoutMs: 30_000,
      intervalMs: 250,
    });
    for (const span of receiver.spans) leaks.push(...scan(`span "${span.name}" of ${span.service}`, JSON.stringify(span)));
    // The logs did record the traffic (the scan looked at something).
    expect(readdirSync(system.logDir).map((f) => readFileSync(join(system.logDir, f), 'utf8')).join('\n')).toContain('/topup');

    expect(leaks).toEqual([]);
  });
});
