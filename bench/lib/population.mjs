// The bench's users and who acts as whom. K users (bench-w000 ...) are
// registered at the identity provider and own the uniform accounts (the bank
// seed CLI's --owners); one more user, bench-hot, owns the hot sender, the hot
// recipient and the history-heavy account. A customer may move money only
// from accounts it owns, so each load worker logs in once as one user
// (worker w as user w mod K) and sends from that user's accounts, to any
// account. Sessions are kept across scenarios and refreshed in the background.
import pg from 'pg';
import { registerUsers, SessionPool } from './auth.mjs';

export const BENCH_USERS_MAX = 64;
/** Each user owns at least this many accounts (the event-lag probes keep four to themselves). */
const ACCOUNTS_PER_USER_MIN = 20;
export const HOT_USERNAME = 'bench-hot';
export const benchUsername = (index) => `bench-w${String(index).padStart(3, '0')}`;

/** How many users own the uniform accounts. */
export function usersFor(accounts) {
  return Math.max(1, Math.min(BENCH_USERS_MAX, Math.floor(accounts / ACCOUNTS_PER_USER_MIN)));
}

/** Registers the bench users (a few at a time: each is an argon2 hash); returns their ids. */
export async function registerBenchUsers(endpoints, usersCount, log) {
  const t0 = Date.now();
  const usernames = [...Array.from({ length: usersCount }, (_, i) => benchUsername(i)), HOT_USERNAME];
  const ids = await registerUsers(endpoints, usernames);
  log(`registered ${usernames.length} users (${benchUsername(0)} .. ${benchUsername(usersCount - 1)}, ${HOT_USERNAME}) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const users = usernames.slice(0, -1).map((username, index) => ({ index, username, userId: ids[index] }));
  return { users, hot: { username: HOT_USERNAME, userId: ids.at(-1) } };
}

/** The owner of each account, read back from the bank's schema (however the seed CLI spread them). */
export async function readOwners(databaseUrl, accountIds) {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query('SELECT id::text AS id, owner_id FROM bank.accounts WHERE id = ANY($1::uuid[])', [accountIds]);
    return new Map(rows.map((r) => [r.id, r.owner_id]));
  } finally {
    await client.end();
  }
}

/** Groups the uniform accounts by owning user; fails if an account has no bench owner. */
export function accountsByUser(users, accountIds, owners) {
  const byUserId = new Map(users.map((u) => [u.userId, []]));
  for (const id of accountIds) {
    const list = byUserId.get(owners.get(id));
    if (!list) throw new Error(`account ${id} is owned by ${owners.get(id) ?? 'nobody'}, not by a bench user (does the seed CLI support --owners?)`);
    list.push(id);
  }
  for (const user of users) {
    user.accountIds = byUserId.get(user.userId);
    if (user.accountIds.length < 5) throw new Error(`${user.username} owns ${user.accountIds.length} accounts; the bench needs at least 5 per user`);
  }
  return users;
}

/**
 * Who acts as whom during the run: worker sessions (worker w logs in as user
 * w mod K), hot-account sessions, and the probe sessions of the event-lag scenario.
 */
export function createActors({ endpoints, users, hot, log }) {
  const pool = new SessionPool(endpoints, { log });
  const userOf = (w) => users[w % users.length];
  const actor = (key, user) => {
    const session = pool.get(key);
    return { user, accountIds: user.accountIds, headers: () => ({ authorization: session.authorization }), session };
  };
  return {
    pool,
    users,
    hot,
    /** Logs in what `workers` uniform workers and `hotWorkers` hot-account workers need (kept across scenarios). */
    async prepare({ workers = 0, hotWorkers = 0 } = {}) {
      const entries = [
        ...Array.from({ length: workers }, (_, w) => [`w${w}`, userOf(w).username]),
        ...Array.from({ length: hotWorkers }, (_, w) => [`hot${w}`, hot.username]),
      ];
      const created = await pool.ensure(entries);
      if (created > 0) log(`logged in ${created} more workers (${pool.sessions.size} sessions)`);
      pool.startRefresher();
    },
    worker: (w) => actor(`w${w}`, userOf(w)),
    hotWorker: (w) => actor(`hot${w}`, hot),
    stop: () => pool.stop(),
    stats: () => pool.stats(),
  };
}
