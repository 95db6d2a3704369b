import type { Db } from '../db/types.js';
import type { EventStore } from '../eventstore/store.js';
import type { Notifier } from '../eventstore/notifier.js';
import type { Logger } from '../observability/logger.js';
import { ReadYourWrites } from './consistency.js';
import {
  createRebuildGeneration,
  ensureActiveGeneration,
  pauseGeneration,
  resumeGeneration,
} from './generations.js';
import { Runners, type ProjectionRuntimeOptions } from './runner.js';
import { projectionStatus, type ProjectionStatus } from './status.js';
import type { Projection } from './types.js';

export { ReadTimeoutError } from './consistency.js';
export { RebuildRefused } from './generations.js';
export type { ProjectionRuntimeOptions } from './runner.js';
export { LAG_COUNT_LIMIT, type ProjectionStatus } from './status.js';
export type { ProjectionState } from './types.js';

/**
 * The projections of this process: generations (generations.ts), their runners
 * (runner.ts), read-your-writes waits (consistency.ts) and admin status (status.ts).
 */
export class ProjectionRuntime {
  private readonly byName = new Map<string, Projection>();
  private readonly runners: Runners;
  private readonly reads: ReadYourWrites;
  private started = false;

  constructor(
    private readonly db: Db,
    store: EventStore,
    notifier: Notifier,
    projections: readonly Projection[],
    private readonly logger: Logger,
    options: ProjectionRuntimeOptions = {},
  ) {
    for (const p of projections) this.byName.set(p.name, p);
    this.reads = new ReadYourWrites(db, notifier);
    this.runners = new Runners(db, store, notifier, this.byName, logger, this.reads, options);
  }

  get projections(): Projection[] {
    return [...this.byName.values()];
  }

  /** Creates missing generations and tables, then starts a runner for each live generation. */
  async start(): Promise<void> {
    this.started = true;
    this.runners.listen();
    for (const p of this.byName.values()) await ensureActiveGeneration(this.db, this.logger, p);
    await this.runners.spawnRunners();
  }

  async stop(): Promise<void> {
    await this.runners.stop();
  }

  /**
   * Starts building a new generation from the start of the log while the current one
   * keeps serving; it becomes active once caught up. The runner runs in this process when
   * the runtime is started, or when `run` is set (the CLI), else in whichever server
   * process picks it up.
   */
  async rebuild(name: string, options: { run?: boolean } = {}): Promise<number> {
    const p = this.byName.get(name);
    if (!p) throw new Error(`Unknown projection ${name}`);
    const generation = await createRebuildGeneration(this.db, p);
    if (this.started || options.run) this.runners.spawn(name, generation);
    return generation;
  }

  async pause(name: string): Promise<void> {
    await pauseGeneration(this.db, name);
  }

  /** Resumes a paused projection, or one stopped on a poison event (after the fix). */
  async resume(name: string): Promise<void> {
    const generations = await resumeGeneration(this.db, name);
    if (this.started) for (const g of generations) this.runners.spawn(name, g);
    this.runners.wakeAll();
  }

  async status(): Promise<ProjectionStatus[]> {
    return projectionStatus(this.db, this.runners.batchSize);
  }

  /**
   * Read-your-writes: resolves once every named projection's active generation has
   * applied the log up to `cursor`; throws ReadTimeoutError after `timeoutMs`.
   */
  async waitFor(
    cursor: string,
    names: readonly string[] = [...this.byName.keys()],
    timeoutMs = 5_000,
  ): Promise<void> {
    return this.reads.waitFor(cursor, names, timeoutMs);
  }
}
