import type { ExpectedVersion } from './errors.js';

/** A JSON value, as stored in jsonb. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * Metadata stored with every event. The command handler fills the well-known keys;
 * anything else may be added.
 */
export interface EventMetadata {
  userId?: string;
  role?: string;
  commandId?: string;
  correlationId?: string;
  causationId?: string;
  mutation?: string;
  [key: string]: Json | undefined;
}

/** An event as a writer hands it to the store. */
export interface NewEvent {
  type: string;
  data: unknown;
  /** Version of the payload shape; defaults to 1. */
  schemaVersion?: number;
  metadata?: EventMetadata;
  /** Defaults to a fresh random uuid. */
  eventId?: string;
}

/** An event as read back from the store, after upcasting. */
export interface StoredEvent<D = unknown> {
  eventId: string;
  streamId: string;
  streamType: string;
  type: string;
  schemaVersion: number;
  /** Version of the stream this event made (1, 2, 3 …). */
  version: number;
  globalPosition: number;
  transactionId: string;
  /** Opaque position in the log in commit order; resume reading after it. */
  cursor: string;
  recordedAt: Date;
  data: D;
  metadata: EventMetadata;
  correlationId: string | null;
  causationId: string | null;
}

export interface StreamAppend {
  streamId: string;
  streamType: string;
  events: NewEvent[];
  expected: ExpectedVersion;
}

export interface AppendOptions {
  /** Idempotency key. Replaying it returns the first result and writes nothing. */
  commandId?: string;
  /**
   * Fingerprint of the command's input. Defaults to a hash of the appended streams and
   * events; a command handler passes a hash of the command itself, since its events carry
   * fresh ids and times on every run.
   */
  requestHash?: string;
  /** Merged into every event's metadata (event-level keys win). */
  metadata?: EventMetadata;
}

export interface AppendedEvent {
  eventId: string;
  streamId: string;
  version: number;
  globalPosition: number;
  cursor: string;
}

export interface AppendResult {
  /** True when the command id had been processed before and nothing was written now. */
  duplicate: boolean;
  transactionId: string;
  streams: { streamId: string; version: number }[];
  events: AppendedEvent[];
  /** Cursor of the last appended event. */
  cursor: string;
}

export interface ReadStreamOptions {
  /** Inclusive. */
  fromVersion?: number;
  /** Inclusive. */
  toVersion?: number;
  /** Only events recorded at or before this time. */
  toTime?: Date;
  backwards?: boolean;
  limit?: number;
}

export interface ReadAllOptions {
  /** Exclusive; omitted means from the start of the log. */
  after?: string | null;
  limit?: number;
  streamTypes?: readonly string[];
  eventTypes?: readonly string[];
  streamId?: string;
  /** Any of these streams (e.g. an order and the streams of its fulfillment). */
  streamIds?: readonly string[];
}
