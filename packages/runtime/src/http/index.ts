// Fastify helpers that give the server and the relay the same request-level behaviour.
export * from './access-log.js';
export * from './connection-cap.js';
export * from './error-handler.js';
export * from './http-limits.js';
export * from './json-body.js';
export * from './terminal-auth.js';
export * from './create-api-server.js';
export * from './signature-check.js';
