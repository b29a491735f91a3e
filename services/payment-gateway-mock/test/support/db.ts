import { testDatabaseAdminUrl, waitFor, type TestDatabase } from '@wallet/testkit';
import pg from 'pg';

/** Drops a test database once the connections closed by the test have really gone (pg's Pool.end resolves before the sockets close). */
export async function dropTestDatabase(db: TestDatabase | undefined): Promise<void> {
  if (!db) return;
  const admin = new pg.Client({ connectionString: testDatabaseAdminUrl() });
  await admin.connect();
  try {
    await waitFor(
      async () => {
        const { rows } = await admin.query<{ n: string }>('SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1', [db.name]);
        return Number(rows[0]?.n) === 0;
      },
      { timeoutMs: 5_000, what: `connections to ${db.name} to close` },
    ).catch(() => undefined); // a straggler is then ended by FORCE
  } finally {
    await admin.end();
  }
  await db.drop();
}
