// Relay leadership across bank replicas: one PostgreSQL session advisory lock,
// held across cycles on one dedicated connection (the relay's own pool of one,
// application_name bank-service/<replica>, so operators see who leads in
// pg_stat_activity). Followers try the lock every ≤ 1 s; the lock ends with the
// leader's session, so a leader killed with -9 (its socket closes, PostgreSQL
// ends the backend) is replaced by the next follower try. The leader runs every
// outbox read and delete on the lock-holding session itself: a session that
// died can neither read nor delete, and a failed statement makes the leader
// step down (drop the connection) rather than guess whether it still leads.
// A live session always still holds its lock: only the session itself (or its
// end) can release a session-level advisory lock. A leader that is alive but
// frozen keeps its socket open, so the session also carries an
// idle_session_timeout: PostgreSQL ends it, and the lock, when no statement
// came for longer than a healthy relay ever pauses.
import type { Logger } from '@wallet/platform';
import type pg from 'pg';

export interface RelayLeadershipOptions {
  /** Where the lock-holding connection comes from (bank-service: a pool of one). */
  pool: pg.Pool;
  lockKey: number;
  logger: Logger;
  /**
   * PostgreSQL ends the session after this long without a statement
   * (idle_session_timeout): a frozen leader (SIGSTOP, a stalled event loop)
   * loses the lock instead of keeping it forever. Longer than any pause of a
   * healthy relay between two statements.
   */
  idleSessionTimeoutMs: number;
  /** Called on each change of role (metrics). */
  onChange?: (leader: boolean) => void;
}

export class RelayLeadership {
  private session: pg.PoolClient | undefined;
  private leading = false;

  constructor(private readonly options: RelayLeadershipOptions) {}

  get isLeader(): boolean {
    return this.leading;
  }

  /**
   * The lock-holding session: kept while leading, else the lock is tried once
   * (never waits). Undefined while another session holds it. Throws when the
   * database is unreachable (the caller then calls abandon).
   */
  async acquire(): Promise<pg.PoolClient | undefined> {
    this.session ??= await this.connect();
    if (this.leading) return this.session;
    const { rows } = await this.session.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [this.options.lockKey]);
    if (rows[0]?.ok !== true) return undefined;
    this.setLeading(true);
    return this.session;
  }

  private async connect(): Promise<pg.PoolClient> {
    const session = await this.options.pool.connect();
    try {
      await session.query(`SELECT set_config('idle_session_timeout', $1, false)`, [String(this.options.idleSessionTimeoutMs)]);
    } catch (error) {
      session.release(error as Error);
      throw error;
    }
    return session;
  }

  /** The session may be broken: destroy it (its lock, if any, ends with it) and step down. */
  abandon(error: Error): void {
    const session = this.session;
    this.session = undefined;
    session?.release(error);
    this.setLeading(false, error);
  }

  /** Graceful step-down: unlock, give the connection back; a failed unlock destroys the session instead. */
  async release(): Promise<void> {
    const session = this.session;
    if (!session) return;
    this.session = undefined;
    let broken: Error | undefined;
    if (this.leading) {
      await session.query('SELECT pg_advisory_unlock($1)', [this.options.lockKey]).catch((error: unknown) => {
        broken = error as Error;
      });
    }
    session.release(broken);
    this.setLeading(false);
  }

  private setLeading(leading: boolean, error?: Error): void {
    if (this.leading === leading) return;
    this.leading = leading;
    if (leading) this.options.logger.info('outbox relay leadership acquired');
    else if (error) this.options.logger.warn({ err: error }, 'outbox relay session failed; stepping down from leadership');
    else this.options.logger.info('outbox relay leadership released');
    this.options.onChange?.(leading);
  }
}
