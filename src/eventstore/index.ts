export * from './cursor.js';
export * from './errors.js';
export * from './snapshots.js';
export * from './store.js';
export * from './types.js';
export * from './upcasters.js';
