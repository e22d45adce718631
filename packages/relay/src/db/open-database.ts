import { openSqlite } from '@ventesync/runtime/sqlite';
import Database from 'better-sqlite3';
import { MIGRATIONS } from './migrations.js';

export type Db = Database.Database;

export const openDatabase = (file: string): Db => openSqlite((path) => new Database(path), file, MIGRATIONS);
