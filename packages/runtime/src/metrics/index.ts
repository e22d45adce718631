// What the server and the relay show IT: Prometheus metrics and the readiness check.
export * from './http-metrics.js';
export * from './metrics-route.js';
export * from './readiness.js';
export * from './registry.js';
