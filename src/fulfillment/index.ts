export * from './ids.js';
export * from './process.js';
export * from './shipment.js';
export * from './timeline.js';
