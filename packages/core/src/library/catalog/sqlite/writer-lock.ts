// One writer per catalog. The lock is an EXCLUSIVE transaction held open on a small side
// database (`<catalog>.lock`): SQLite takes it with an fcntl lock, which the kernel drops the
// moment the holder dies, so a kill -9 never leaves a stale lock behind (a pid file would, and
// pid reuse makes liveness checks unreliable). Readers of the catalog itself are untouched.
import Database from 'better-sqlite3';
import { CatalogBusyError } from '../../../errors.js';

export class WriterLock {
  private constructor(private readonly db: Database.Database) {}

  /** Takes the lock at once or throws CatalogBusyError; never waits. */
  static acquire(catalogPath: string): WriterLock {
    const lockPath = `${catalogPath}.lock`;
    const db = new Database(lockPath, { timeout: 0 });
    try {
      db.exec('BEGIN EXCLUSIVE');
    } catch (err) {
      db.close();
      if ((err as { code?: string }).code === 'SQLITE_BUSY') {
        throw new CatalogBusyError('database is busy: another clipkit import is writing to it', catalogPath, {
          cause: err,
        });
      }
      throw err;
    }
    return new WriterLock(db);
  }

  release(): void {
    if (!this.db.open) return;
    this.db.exec('ROLLBACK');
    this.db.close();
  }
}
