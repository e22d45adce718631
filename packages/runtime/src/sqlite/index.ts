export * from './prepare-database.js';
export * from './protect-file.js';
export * from './audit-log.js';
