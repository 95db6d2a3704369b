import { randomUUID } from 'node:crypto';
import type { Queryable } from '../db/types.js';
import { fingerprint } from '../shared/hash.js';
import { decodeCursor, encodeCursor, START, type LogPosition } from './cursor.js';
import {
  ConcurrencyError,
  IdempotencyConflictError,
  InvalidInputError,
  type ExpectedVersion,
} from './errors.js';
import type {
  AppendOptions,
  AppendResult,
  AppendedEvent,
  EventMetadata,
  NewEvent,
  ReadAllOptions,
  ReadStreamOptions,
  StoredEvent,
  StreamAppend,
} from './types.js';
import { UpcasterRegistry } from './upcasters.js';
import { checkName, checkPositiveInt, checkUuid, toJson } from './validation.js';

export interface EventStoreOptions {
  /** Largest event payload accepted, in bytes of JSON (default 256 KiB). */
  maxEventBytes?: number;
  upcasters?: UpcasterRegistry;
  /** Told of every append that wrote (for metrics). */
  onAppend?: (seconds: number, events: number) => void;
  /**
   * Wakes readers after each committed append. Without it, the append's own transaction
   * sends the NOTIFY (so any writer wakes every reader); with it, the caller does, after
   * commit and coalesced, which keeps notifying transactions from serialising commits.
   * Only for a store whose appends are statements of their own (not one bound to a
   * caller's open transaction, where "after" would come before the commit).
   */
  afterCommit?: () => void;
}

export const MAX_READ_LIMIT = 10_000;
const MAX_EVENTS_PER_APPEND = 1_000;

interface EventRow {
  event_id: string;
  stream_id: string;
  stream_type: string;
  event_type: string;
  schema_version: number;
  stream_version: number;
  global_position: number;
  transaction_id: string;
  recorded_at: Date;
  data: unknown;
  metadata: EventMetadata;
  correlation_id: string | null;
  causation_id: string | null;
}

/** A stream as {@link EventStore.loadStreams} reads it: newest snapshot, then later events. */
export interface LoadedStream {
  snapshot: { version: number; state: unknown } | null;
  events: StoredEvent[];
}

export interface LoadedStreams {
  streams: Map<string, LoadedStream>;
  /** The first run of the command id asked about: its fingerprint and recorded result. */
  previous: { requestHash: string; result: unknown } | null;
}

interface AppendRow {
  /** True for a replayed command; strata_append_stream leaves it out otherwise. */
  duplicate?: boolean;
  transactionId: string;
  streams: { streamId: string; version: number }[];
  /** Per stream: [eventId, version, globalPosition] triples. */
  events: [string, number, number][][];
}

/** One stream's append, validated: the event columns as arrays, JSON as text. */
interface PreparedStream {
  streamId: string;
  streamType: string;
  /** As SQL spells it: 'any', 'no_stream', 'stream_exists' or the version. */
  expected: string;
  eventIds: string[];
  types: string[];
  schemaVersions: number[];
  data: string[];
  metadata: string[];
}

type PreparedAppend =
  ({ kind: 'one' } & PreparedStream) | { kind: 'many'; streams: PreparedStream[] };

/** One stream (migration 0005): typed arrays, no jsonb document to unpack. */
const APPEND_STREAM_SQL =
  'SELECT strata_append_stream($1, $2, $3, $4, $5, $6::uuid[], $7::text[], $8::integer[], $9::jsonb[], $10::jsonb[], $11) AS result';
/** Several streams, atomically, set-based (migration 0006). */
const APPEND_STREAMS_SQL =
  'SELECT strata_append_streams($1, $2, $3::text[], $4::text[], $5::text[], $6::integer[], $7::uuid[], $8::text[], $9::integer[], $10::jsonb[], $11::jsonb[], $12) AS result';

const EVENT_COLUMNS = `event_id, stream_id, stream_type, event_type, schema_version, stream_version,
  global_position, transaction_id::text AS transaction_id, recorded_at, data, metadata, correlation_id, causation_id`;

/**
 * The append-only event store (docs/architecture.md, "Event store invariants"). All its SQL lives
 * here and in the SQL functions `strata_append_stream` (migration 0005, one stream) and
 * `strata_append_streams` (migration 0006, several streams; it replaces `strata_append` of
 * migration 0001, which stays in the schema with the same semantics).
 */
export class EventStore {
  readonly upcasters: UpcasterRegistry;
  private readonly maxEventBytes: number;

  constructor(
    private readonly db: Queryable,
    private readonly options: EventStoreOptions = {},
  ) {
    this.upcasters = options.upcasters ?? new UpcasterRegistry();
    this.maxEventBytes = options.maxEventBytes ?? 256 * 1024;
  }

  /** Appends events to one stream; see {@link appendMany}. */
  async append(
    streamId: string,
    streamType: string,
    events: NewEvent[],
    options: AppendOptions & { expected?: ExpectedVersion } = {},
  ): Promise<AppendResult> {
    const { expected = 'any', ...rest } = options;
    return this.appendMany([{ streamId, streamType, events, expected }], rest);
  }

  /**
   * Appends the events of one command, to one or more streams, atomically with the
   * command's idempotency record and a NOTIFY wake-up. Throws {@link ConcurrencyError},
   * {@link IdempotencyConflictError} or {@link InvalidInputError}; on any error nothing
   * is written.
   */
  async appendMany(streams: StreamAppend[], options: AppendOptions = {}): Promise<AppendResult> {
    const started = performance.now();
    const prepared = this.prepare(streams, options);
    // The fingerprint only matters with a command id (it is stored and compared only then).
    const requestHash = options.commandId
      ? (options.requestHash ??
        fingerprint(
          streams.map((s) => ({
            streamId: s.streamId,
            streamType: s.streamType,
            expected: s.expected,
            events: s.events.map((e) => ({
              type: e.type,
              data: e.data,
              schemaVersion: e.schemaVersion ?? null,
            })),
          })),
        ))
      : null;
    const commandId = options.commandId ?? null;
    const notify = this.options.afterCommit === undefined;
    let row: AppendRow;
    try {
      const r =
        prepared.kind === 'one'
          ? await this.db.query<{ result: AppendRow }>(
              APPEND_STREAM_SQL,
              [
                commandId,
                requestHash,
                prepared.streamId,
                prepared.streamType,
                prepared.expected,
                prepared.eventIds,
                prepared.types,
                prepared.schemaVersions,
                prepared.data,
                prepared.metadata,
                notify,
              ],
              { name: 'strata_append_stream' },
            )
          : await this.db.query<{ result: AppendRow }>(
              APPEND_STREAMS_SQL,
              [
                commandId,
                requestHash,
                prepared.streams.map((p) => p.streamId),
                prepared.streams.map((p) => p.streamType),
                prepared.streams.map((p) => p.expected),
                prepared.streams.flatMap((p, k) => p.eventIds.map(() => k + 1)),
                prepared.streams.flatMap((p) => p.eventIds),
                prepared.streams.flatMap((p) => p.types),
                prepared.streams.flatMap((p) => p.schemaVersions),
                prepared.streams.flatMap((p) => p.data),
                prepared.streams.flatMap((p) => p.metadata),
                notify,
              ],
              { name: 'strata_append_streams' },
            );
      row = r.rows[0]!.result;
    } catch (err) {
      throw translate(err);
    }
    const result = toAppendResult(row);
    if (!result.duplicate) {
      this.options.onAppend?.((performance.now() - started) / 1000, result.events.length);
      this.options.afterCommit?.();
    }
    return result;
  }

  /**
   * Validates and serialises an append: typed arrays, one element per event, JSON as
   * text (several streams add the index of each event's stream).
   */
  private prepare(streams: StreamAppend[], options: AppendOptions): PreparedAppend {
    if (!Array.isArray(streams) || streams.length === 0)
      throw new InvalidInputError('streams', 'nothing to append');
    if (options.commandId !== undefined) checkUuid('commandId', options.commandId);
    const seen = new Set<string>();
    const common = options.metadata
      ? toJson('metadata', options.metadata, this.maxEventBytes)
      : undefined;
    let total = 0;
    const parts = streams.map((s, si): PreparedStream => {
      checkName('streamId', s.streamId);
      checkName('streamType', s.streamType);
      if (seen.has(s.streamId))
        throw new InvalidInputError('streamId', `${s.streamId} appears twice in one append`);
      seen.add(s.streamId);
      const expected = expectedToSql(s.expected);
      if (!Array.isArray(s.events) || s.events.length === 0) {
        throw new InvalidInputError(`streams[${si}].events`, 'an append needs at least one event');
      }
      total += s.events.length;
      if (total > MAX_EVENTS_PER_APPEND) {
        throw new InvalidInputError('events', `at most ${MAX_EVENTS_PER_APPEND} events per append`);
      }
      const n = s.events.length;
      const p: PreparedStream = {
        streamId: s.streamId,
        streamType: s.streamType,
        expected,
        eventIds: new Array<string>(n),
        types: new Array<string>(n),
        schemaVersions: new Array<number>(n),
        data: new Array<string>(n),
        metadata: new Array<string>(n),
      };
      s.events.forEach((e, ei) => {
        const at = `events[${ei}]`;
        checkName(`${at}.type`, e?.type);
        const schemaVersion = e.schemaVersion ?? this.upcasters.currentVersion(e.type);
        checkPositiveInt(`${at}.schemaVersion`, schemaVersion, 1);
        const eventId = e.eventId ?? randomUUID();
        checkUuid(`${at}.eventId`, eventId);
        p.eventIds[ei] = eventId;
        p.types[ei] = e.type;
        p.schemaVersions[ei] = schemaVersion;
        p.data[ei] = toJson(`${at}.data`, e.data, this.maxEventBytes);
        const own = e.metadata
          ? toJson(`${at}.metadata`, e.metadata, this.maxEventBytes)
          : undefined;
        p.metadata[ei] = mergeMetadata(common, own);
      });
      return p;
    });
    if (parts.length === 1) return { kind: 'one', ...parts[0]! };
    return { kind: 'many', streams: parts };
  }

  /** The events of one stream in version order (or backwards), after upcasting. */
  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<StoredEvent[]> {
    checkName('streamId', streamId);
    const { fromVersion = 1, toVersion, toTime, backwards = false, limit } = options;
    checkPositiveInt('fromVersion', fromVersion);
    if (toVersion !== undefined) checkPositiveInt('toVersion', toVersion);
    if (limit !== undefined) checkPositiveInt('limit', limit, 1);
    if (toTime !== undefined && !(toTime instanceof Date && !Number.isNaN(toTime.getTime()))) {
      throw new InvalidInputError('toTime', 'must be a valid date');
    }
    const r = await this.db.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM events
       WHERE stream_id = $1 AND stream_version >= $2
         AND ($3::integer IS NULL OR stream_version <= $3)
         -- A JS Date has milliseconds, the column microseconds: compare at the Date's
         -- precision, so that asking as of an event's recordedAt includes that event.
         AND ($4::timestamptz IS NULL OR recorded_at < $4::timestamptz + interval '1 millisecond')
       ORDER BY stream_version ${backwards ? 'DESC' : 'ASC'}
       LIMIT $5`,
      [streamId, fromVersion, toVersion ?? null, toTime ?? null, limit ?? null],
    );
    return r.rows.map((row) => this.toEvent(row));
  }

  /**
   * Everything a command needs in one round trip: for each stream, its newest snapshot of
   * the given shape (if any) and the events after it, in version order; and, for a command
   * id, the record of its first run (if any). Used by the command handler for every
   * command, so one statement replaces the idempotency check and two reads per stream.
   */
  async loadStreams(
    targets: readonly { streamId: string; snapshotSchemaVersion: number }[],
    commandId?: string,
  ): Promise<LoadedStreams> {
    const unique = new Map<string, number>();
    for (const t of targets) {
      checkName('streamId', t.streamId);
      checkPositiveInt('snapshotSchemaVersion', t.snapshotSchemaVersion, 1);
      if (!unique.has(t.streamId)) unique.set(t.streamId, t.snapshotSchemaVersion);
    }
    if (commandId !== undefined) checkUuid('commandId', commandId);
    // Prepared, so planned once for any input: each stream's events are read by a LATERAL
    // subquery (OFFSET 0 keeps it from being flattened into a join) so that the plan is an
    // index scan per stream whatever the planner guesses for unnest's row count; a plain
    // join gets a generic plan that scans all of `events`.
    const r = await this.db.query<EventRow & { kind: 'c' | 's' | 'e' }>(
      `WITH t AS (
         SELECT * FROM unnest($1::text[], $2::int[]) AS t(stream_id, snapshot_schema)
       ), snap AS (
         SELECT t.stream_id, s.version, s.state
         FROM t JOIN LATERAL (
           SELECT version, state FROM snapshots s
           WHERE s.stream_id = t.stream_id AND s.schema_version = t.snapshot_schema
           ORDER BY version DESC LIMIT 1
         ) s ON true
       )
       SELECT 'e' AS kind, e.event_id, e.stream_id, e.stream_type, e.event_type, e.schema_version,
              e.stream_version, e.global_position, e.transaction_id::text AS transaction_id,
              e.recorded_at, e.data, e.metadata, e.correlation_id, e.causation_id
       FROM t LEFT JOIN snap ON snap.stream_id = t.stream_id
       CROSS JOIN LATERAL (
         SELECT * FROM events e
         WHERE e.stream_id = t.stream_id AND e.stream_version > coalesce(snap.version, 0)
         OFFSET 0
       ) e
       UNION ALL
       SELECT 's', NULL, stream_id, NULL, NULL, NULL, version, NULL, NULL, NULL, state, NULL, NULL, NULL
       FROM snap
       UNION ALL
       SELECT 'c', NULL, NULL, NULL, request_hash, NULL, NULL, NULL, NULL, NULL, result, NULL, NULL, NULL
       FROM processed_commands WHERE command_id = $3::uuid
       ORDER BY 1, 3, 7`,
      [[...unique.keys()], [...unique.values()], commandId ?? null],
    );
    const streams = new Map<string, LoadedStream>(
      [...unique.keys()].map((id) => [id, { snapshot: null, events: [] }]),
    );
    let previous: LoadedStreams['previous'] = null;
    for (const row of r.rows) {
      if (row.kind === 'c') {
        previous = { requestHash: row.event_type, result: row.data };
      } else if (row.kind === 's') {
        streams.get(row.stream_id)!.snapshot = { version: row.stream_version, state: row.data };
      } else {
        streams.get(row.stream_id)!.events.push(this.toEvent(row));
      }
    }
    return { streams, previous };
  }

  /** The stream's current version; 0 when it does not exist. */
  async streamVersion(streamId: string): Promise<number> {
    checkName('streamId', streamId);
    const r = await this.db.query<{ version: number }>(
      'SELECT version FROM streams WHERE stream_id = $1',
      [streamId],
    );
    return r.rows[0]?.version ?? 0;
  }

  /**
   * The log in commit order (invariant 5): only events whose transaction is older than
   * every transaction still running are returned, ordered by (transaction id, global
   * position), so an event that commits late can never be skipped by a reader that
   * resumes from the last cursor it saw.
   */
  async readAll(options: ReadAllOptions = {}): Promise<StoredEvent[]> {
    // null/undefined mean the start; anything else (even '') must be a well-formed cursor.
    const after = options.after != null ? decodeCursor(options.after) : START;
    const limit = options.limit ?? 1000;
    checkPositiveInt('limit', limit, 1);
    if (limit > MAX_READ_LIMIT)
      throw new InvalidInputError('limit', `must be at most ${MAX_READ_LIMIT}`);
    const filters: string[] = [];
    const params: unknown[] = [after.transactionId, after.globalPosition, limit];
    if (options.streamTypes?.length) {
      params.push(options.streamTypes);
      filters.push(`AND stream_type = ANY($${params.length}::text[])`);
    }
    if (options.eventTypes?.length) {
      params.push(options.eventTypes);
      filters.push(`AND event_type = ANY($${params.length}::text[])`);
    }
    if (options.streamId !== undefined) {
      checkName('streamId', options.streamId);
      params.push(options.streamId);
      filters.push(`AND stream_id = $${params.length}`);
    }
    if (options.streamIds?.length) {
      for (const id of options.streamIds) checkName('streamIds', id);
      params.push(options.streamIds);
      filters.push(`AND stream_id = ANY($${params.length}::text[])`);
    }
    const r = await this.db.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM events
       WHERE (transaction_id, global_position) > ($1::xid8, $2::bigint)
         AND transaction_id < (SELECT strata_read_horizon())
         ${filters.join(' ')}
       -- Qualified: a bare name would sort by the text alias above ('10' < '9'), which
       -- breaks resuming from cursors and cannot use the commit-order index.
       ORDER BY events.transaction_id, events.global_position
       LIMIT $3`,
      params,
    );
    return r.rows.map((row) => this.toEvent(row));
  }

  /**
   * The newest events of the given types, newest first (admin views of recent problems).
   * Not a feed: readers that must see every event use {@link readAll}.
   */
  async latest(options: { eventTypes: readonly string[]; limit: number }): Promise<StoredEvent[]> {
    checkPositiveInt('limit', options.limit, 1);
    if (options.limit > MAX_READ_LIMIT)
      throw new InvalidInputError('limit', `must be at most ${MAX_READ_LIMIT}`);
    const r = await this.db.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM events
       WHERE event_type = ANY($1::text[]) AND transaction_id < (SELECT strata_read_horizon())
       ORDER BY events.transaction_id DESC, events.global_position DESC
       LIMIT $2`,
      [options.eventTypes, options.limit],
    );
    return r.rows.map((row) => this.toEvent(row));
  }

  /**
   * Streams of `streamType` that began with a `startedBy` event recorded before `before`
   * and hold none of the `without` events: e.g. processes still waiting on a step past a
   * deadline. Oldest first.
   */
  async streamsAwaiting(options: {
    streamType: string;
    startedBy: string;
    before: Date;
    /** Only streams begun after this: the part not checked before (bounds the scan). */
    after: Date;
    without: readonly string[];
    limit: number;
  }): Promise<string[]> {
    checkPositiveInt('limit', options.limit, 1);
    const r = await this.db.query<{ stream_id: string }>(
      `SELECT s.stream_id FROM events s
       WHERE s.event_type = $1 AND s.stream_type = $2
         AND s.recorded_at < $3 AND s.recorded_at >= $6
         AND NOT EXISTS (
           SELECT 1 FROM events e
           WHERE e.stream_id = s.stream_id AND e.event_type = ANY($4::text[]))
       ORDER BY s.global_position
       LIMIT $5`,
      [
        options.startedBy,
        options.streamType,
        options.before,
        options.without,
        options.limit,
        options.after,
      ],
    );
    return r.rows.map((row) => row.stream_id);
  }

  /**
   * The oldest open transaction of this database that holds a transaction id (so may be
   * writing events): readers cannot see past it until it ends. Null when there is none.
   */
  async oldestWriter(): Promise<{ pid: number; seconds: number } | null> {
    const r = await this.db.query<{ pid: number; seconds: number }>(
      `SELECT pid, extract(epoch FROM now() - xact_start)::float8 AS seconds
       FROM pg_stat_activity
       WHERE datname = current_database() AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()
       ORDER BY age(backend_xid) DESC LIMIT 1`,
    );
    return r.rows[0] ?? null;
  }

  /**
   * Whether the log holds a committed event at or after `cursor`: true for every cursor the
   * store handed out (an event's), false for one beyond the end of the log, which no
   * reader will ever reach. Unlike {@link head}, it sees events above the read horizon: a
   * cursor that a command answered with counts as soon as the command has committed.
   */
  async reaches(cursor: string): Promise<boolean> {
    const at = decodeCursor(cursor);
    const r = await this.db.query<{ found: boolean }>(
      `SELECT EXISTS (
         SELECT 1 FROM events WHERE (transaction_id, global_position) >= ($1::xid8, $2::bigint)
       ) AS found`,
      [at.transactionId, at.globalPosition],
    );
    return r.rows[0]!.found;
  }

  /** The position of the newest event visible to readers, or null for an empty log. */
  async head(): Promise<{ cursor: string; globalPosition: number; recordedAt: Date } | null> {
    const r = await this.db.query<{
      transaction_id: string;
      global_position: number;
      recorded_at: Date;
    }>(
      `SELECT transaction_id::text AS transaction_id, global_position, recorded_at FROM events
       WHERE transaction_id < (SELECT strata_read_horizon())
       ORDER BY events.transaction_id DESC, events.global_position DESC LIMIT 1`,
    );
    const row = r.rows[0];
    if (!row) return null;
    return {
      cursor: encodeCursor({
        transactionId: row.transaction_id,
        globalPosition: row.global_position,
      }),
      globalPosition: row.global_position,
      recordedAt: row.recorded_at,
    };
  }

  private toEvent(row: EventRow): StoredEvent {
    const { schemaVersion, data } = this.upcasters.upcast(
      row.event_type,
      row.schema_version,
      row.data,
    );
    const position: LogPosition = {
      transactionId: row.transaction_id,
      globalPosition: row.global_position,
    };
    return {
      eventId: row.event_id,
      streamId: row.stream_id,
      streamType: row.stream_type,
      type: row.event_type,
      schemaVersion,
      version: row.stream_version,
      globalPosition: row.global_position,
      transactionId: row.transaction_id,
      cursor: encodeCursor(position),
      recordedAt: row.recorded_at,
      data,
      metadata: row.metadata,
      correlationId: row.correlation_id,
      causationId: row.causation_id,
    };
  }
}

function expectedToSql(expected: ExpectedVersion): string {
  switch (expected) {
    case 'any':
      return 'any';
    case 'noStream':
      return 'no_stream';
    case 'streamExists':
      return 'stream_exists';
    default:
      checkPositiveInt('expected', expected);
      return String(expected);
  }
}

function expectedFromSql(expected: string): ExpectedVersion {
  switch (expected) {
    case 'any':
      return 'any';
    case 'no_stream':
      return 'noStream';
    case 'stream_exists':
      return 'streamExists';
    default:
      return Number(expected);
  }
}

function mergeMetadata(common: string | undefined, own: string | undefined): string {
  if (!common) return own ?? '{}';
  if (!own) return common;
  return JSON.stringify({ ...(JSON.parse(common) as object), ...(JSON.parse(own) as object) });
}

function toAppendResult(row: AppendRow): AppendResult {
  const events: AppendedEvent[] = [];
  row.streams.forEach((s, i) => {
    for (const [eventId, version, globalPosition] of row.events[i] ?? []) {
      events.push({
        eventId,
        streamId: s.streamId,
        version,
        globalPosition,
        cursor: encodeCursor({ transactionId: row.transactionId, globalPosition }),
      });
    }
  });
  const last = events.reduce((a, b) => (b.globalPosition > a.globalPosition ? b : a));
  return {
    duplicate: row.duplicate === true,
    transactionId: row.transactionId,
    streams: row.streams,
    events,
    cursor: last.cursor,
  };
}

/** Maps the SX errors raised by the append functions to the store's typed errors. */
function translate(err: unknown): unknown {
  const e = err as { code?: string; detail?: string };
  if (e?.code === 'SX002' && e.detail) {
    const d = JSON.parse(e.detail) as { streamId: string; expected: string; actual: number };
    return new ConcurrencyError(d.streamId, expectedFromSql(d.expected), d.actual);
  }
  if (e?.code === 'SX001' && e.detail) return new IdempotencyConflictError(e.detail);
  return err;
}
