export * from './table.js';
export * from './french-commander.js';
export * from './command-names.js';
export * from './audit-trail.js';
