import { EventStoreError } from './errors.js';

/** Turns the payload of `type` at `fromVersion` into the shape of `fromVersion + 1`. */
export type Upcaster = (data: any) => unknown; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * Upcasters by (event type, schema version), applied on read so that old streams stay
 * readable after an event's shape changes (invariant 7). Each step moves one version up;
 * a chain runs until no step is registered for the current version.
 */
export class UpcasterRegistry {
  private readonly steps = new Map<string, Upcaster>();
  private readonly latest = new Map<string, number>();

  register(type: string, fromVersion: number, upcast: Upcaster): this {
    const key = `${type}@${fromVersion}`;
    if (this.steps.has(key)) throw new EventStoreError(`Upcaster for ${key} registered twice`);
    this.steps.set(key, upcast);
    this.latest.set(type, Math.max(this.latest.get(type) ?? 1, fromVersion + 1));
    return this;
  }

  /** The version writers should stamp on new events of `type`. */
  currentVersion(type: string): number {
    return this.latest.get(type) ?? 1;
  }

  upcast(
    type: string,
    schemaVersion: number,
    data: unknown,
  ): { schemaVersion: number; data: unknown } {
    let version = schemaVersion;
    let current = data;
    for (;;) {
      const step = this.steps.get(`${type}@${version}`);
      if (!step) return { schemaVersion: version, data: current };
      current = step(current);
      version += 1;
    }
  }
}
