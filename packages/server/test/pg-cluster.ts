// The throwaway cluster lives in src so that the bench starts its own the same way.
export * from '../src/postgres/throwaway-cluster.js';
