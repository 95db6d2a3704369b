import { UpcasterRegistry } from '../eventstore/index.js';
import { orderUpcasters } from '../orders/index.js';

/**
 * Every upcaster of the features' events: what each process that reads the log (server,
 * CLIs, benchmarks) hands its event store, so that all of them see older events in today's
 * shapes (docs/architecture.md, "Upcasting").
 */
export function eventUpcasters(): UpcasterRegistry {
  const registry = new UpcasterRegistry();
  for (const step of orderUpcasters) registry.register(step.type, step.fromVersion, step.upcast);
  return registry;
}
