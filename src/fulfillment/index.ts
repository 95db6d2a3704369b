export * from './events.js';
export * from './triggers.js';
export { COMMAND_ID_NAMESPACE, deriveCommandId } from './ids.js';
export * from './process.js';
export * from './shipment.js';
export * from './timeline.js';
