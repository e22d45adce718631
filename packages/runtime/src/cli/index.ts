export * from './table.js';
export * from './french-commander.js';
