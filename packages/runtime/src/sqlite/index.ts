export * from './prepare-database.js';
