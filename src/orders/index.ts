/** The public API of the orders feature for other features and tests: its commands, decider and events (docs/architecture.md). */
export * from './commands.js';
export * from './decider.js';
export * from './delivery.js';
export * from './events.js';
export * from './timeline.js';
export * from './upcasters.js';
