#!/usr/bin/env node
// `npm run seed:accounts -- [--users N] [--user-prefix seed-user-] [--gateway-url URL] <bank seed options>`
//
// Creates funded accounts for load tests (the bank-service's seed CLI, every option passed through)
// and, with --users N, the users who own them: N users registered through the gateway's
// POST /auth/register (an existing one is logged in instead, so a rerun works), their ids given to
// the bank CLI as --owners (accounts spread round-robin). Their password is SEED_USERS_PASSWORD or
// the load generator's documented one; the users are printed to stderr as {"username","userId"}
// lines, so a load test can log in as them. Needs DATABASE_URL (bank) and, with --users, a running
// gateway and identity-service (`npm start`).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { LOAD_USER_PASSWORD, registerUsers, resolveAuthEndpoints } from '../bench/lib/auth.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BANK_CLI = `${ROOT}services/bank-service/dist/cli/seed-accounts.js`;
const USERS_MAX = 1000;

/** Splits our options from the bank CLI's (everything else passes through unchanged). */
export function parseSeedArgs(argv) {
  const ours = { users: 0, userPrefix: 'seed-user-', gatewayUrl: 'http://127.0.0.1:8080' };
  const rest = [];
  for (let i = 0; i < argv.length; i += 1) {
    const [name, inline] = argv[i].split(/=(.*)/s, 2);
    const value = () => inline ?? argv[++i];
    if (name === '--users') ours.users = Number(value());
    else if (name === '--user-prefix') ours.userPrefix = value();
    else if (name === '--gateway-url') ours.gatewayUrl = value();
    else rest.push(argv[i]);
  }
  if (!Number.isInteger(ours.users) || ours.users < 0 || ours.users > USERS_MAX) throw new Error(`--users must be an integer 0-${USERS_MAX}`);
  if (!/^[a-z0-9._-]{1,50}$/.test(ours.userPrefix)) throw new Error('--user-prefix must be 1-50 of [a-z0-9._-]');
  if (ours.users > 0 && rest.some((arg) => arg.startsWith('--owners'))) throw new Error('give --users or --owners/--owners-file, not both');
  return { ours, rest };
}

export const seedUsername = (prefix, index) => `${prefix}${String(index).padStart(3, '0')}`;

async function main() {
  let parsed;
  try {
    parsed = parseSeedArgs(process.argv.slice(2));
  } catch (error) {
    console.error(`seed-accounts: ${error.message}`);
    process.exit(2);
  }
  const { ours, rest } = parsed;
  const args = [...rest];
  if (ours.users > 0) {
    const password = process.env.SEED_USERS_PASSWORD ?? LOAD_USER_PASSWORD;
    const usernames = Array.from({ length: ours.users }, (_, i) => seedUsername(ours.userPrefix, i));
    const endpoints = await resolveAuthEndpoints({ gatewayUrl: ours.gatewayUrl.replace(/\/+$/, '') });
    const ids = await registerUsers(endpoints, usernames, { password });
    usernames.forEach((username, i) => console.error(JSON.stringify({ username, userId: ids[i] })));
    args.push('--owners', ids.join(','));
  }
  const child = spawn(process.execPath, [BANK_CLI, ...args], { stdio: 'inherit' });
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((error) => {
    console.error(`seed-accounts: ${error.message}`);
    process.exit(1);
  });
}
