import type { CommandHandler } from './handler.js';

/**
 * What a use case needs (docs/architecture.md, "Write side"): the one command handler, to
 * load what the decider needs and to run the command, the clock and the id generator. The
 * GraphQL context has all three, and so does the composition root's `Services`; a CLI or
 * a test can hand in its own.
 */
export interface UseCaseDeps {
  commands: Pick<CommandHandler, 'execute' | 'load'>;
  /** The clock: the only source of "now" for commands. */
  now(): Date;
  /** A new entity id, for entities whose id the caller did not choose. */
  newId(): string;
}

/** What a use case answers: where its command left the log and the stream. */
export interface UseCaseResult {
  /** Cursor of the last event the command appended (or of the stream's head, or of the first run for a replay). */
  cursor: string;
  /** The stream's version after the command. */
  version: number;
}
