/**
 * The types the store's modules share without importing one another: a connection and a schema
 * migration (the migrations, the integrity check and backups need them; db.ts composes them).
 */
import type Database from 'better-sqlite3';

export type Db = Database.Database;
export type Statement = Database.Statement;

/** One step of the schema: `NNNN-description.ts`, never edited once shipped. */
export interface Migration {
  /** Schema version after this migration (its NNNN). */
  version: number;
  name: string;
  /** Runs inside a transaction; throw to roll it back. */
  up(db: Db): void;
}
