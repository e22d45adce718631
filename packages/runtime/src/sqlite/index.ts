export * from './prepare-database.js';
export * from './protect-file.js';
