/** The public API of the fulfillment feature for other features and tests: its commands, decider and events (docs/architecture.md). */
export * from './events.js';
export * from './triggers.js';
export { COMMAND_ID_NAMESPACE, deriveCommandId } from './ids.js';
export * from './process.js';
export * from './shipment.js';
export * from './timeline.js';
