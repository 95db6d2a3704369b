import type { DomainEvent } from './decider.js';

/*
 * The typed event boundary. Each feature declares the list of its event types once, from
 * an object with one key per member of its union (so a missing or an extra type does not
 * compile), and gets from it: builders for its events, the check that turns a stored
 * event into a domain event, and the type of an exhaustive handler map.
 */

/** The event of union `E` whose type is `T`. */
export type EventOf<E extends DomainEvent, T extends E['type'] = E['type']> = Extract<
  E,
  { type: T }
>;

/** Carries the union a type list belongs to, for inference only: never set. */
declare const eventsOf: unique symbol;

/**
 * Every type of the union `E`, once each, in declaration order: a plain array of strings
 * at run time. Made by {@link eventTypes} (or {@link eventTypesWhere}, {@link joinEventTypes}).
 */
export type EventTypes<E extends DomainEvent> = readonly E['type'][] & {
  readonly [eventsOf]?: E;
};

/**
 * The type list of `E`, from an object with one `true` per type: a type of the union it
 * lacks, or a key that is no type of it, fails to compile.
 *
 * ```ts
 * export const orderEventTypes = eventTypes<OrderEvent>({ OrderCreated: true, … });
 * ```
 */
export function eventTypes<E extends DomainEvent>(all: {
  readonly [T in E['type']]: true;
}): EventTypes<E> {
  return Object.freeze(Object.keys(all)) as E['type'][];
}

/** The types of `M` that are flagged `true`. */
type Flagged<M> = { [K in keyof M]: M[K] extends true ? K : never }[keyof M];

/**
 * The types of `E` flagged `true`, from an object that says of every type of the union
 * whether it belongs (a missing or an extra key fails to compile). The list is of the
 * narrowed union, so handler maps over it cover just those.
 */
export const eventTypesWhere =
  <E extends DomainEvent>() =>
  <const M extends { readonly [T in E['type']]: boolean }>(
    flags: M & { readonly [K in Exclude<keyof M, E['type']>]: never },
  ): EventTypes<EventOf<E, Flagged<M> & E['type']>> =>
    Object.freeze(Object.keys(flags).filter((t) => flags[t as keyof M] === true)) as (Flagged<M> &
      E['type'])[];

/** The types of two unions, as the list of their union. */
export const joinEventTypes = <A extends DomainEvent, B extends DomainEvent>(
  a: EventTypes<A>,
  b: EventTypes<B>,
): EventTypes<A | B> => Object.freeze([...a, ...b]);

/** Whether `type` is one of `types`. */
export const isEventType = <E extends DomainEvent>(
  types: EventTypes<E>,
  type: string,
): type is E['type'] => (types as readonly string[]).includes(type);

/**
 * A stored event (anything with `type` and `data`, e.g. an event-store `StoredEvent`) as
 * a domain event of `E`, when its type is one of `types`; null otherwise. The one place
 * a stored payload becomes a typed one: the store holds what the builders made (and
 * upcasters bring older payloads up to date), so the type decides the payload's shape.
 */
export function domainEvent<E extends DomainEvent>(
  stored: { readonly type: string; readonly data: unknown },
  types: EventTypes<E>,
): E | null {
  if (!isEventType(types, stored.type)) return null;
  return { type: stored.type, data: stored.data } as E;
}

/** As {@link domainEvent}, for a stream that holds only events of `E`: another type throws. */
export function expectDomainEvent<E extends DomainEvent>(
  stored: { readonly type: string; readonly data: unknown; readonly streamId?: string },
  types: EventTypes<E>,
): E {
  const event = domainEvent(stored, types);
  if (event === null) {
    const where = stored.streamId === undefined ? '' : ` (stream ${stored.streamId})`;
    throw new Error(
      `Unexpected event type ${stored.type}${where}: expected one of ${types.join(', ')}`,
    );
  }
  return event;
}

/** One builder per event type: `OrderEvents.OrderPaid(data)` is the `OrderPaid` event. */
export type EventBuilders<E extends DomainEvent> = {
  readonly [T in E['type']]: (data: EventOf<E, T>['data']) => EventOf<E, T>;
};

/**
 * The builders of the events of `E`, one per type of its (complete) list:
 *
 * ```ts
 * export const OrderEvents = eventBuilders(orderEventTypes);
 * OrderEvents.OrderPaid({ orderId, paymentId, amount, paidAt }); // an OrderPaid event
 * ```
 */
export function eventBuilders<E extends DomainEvent>(types: EventTypes<E>): EventBuilders<E> {
  return Object.freeze(
    Object.fromEntries(types.map((type) => [type, (data: unknown) => ({ type, data })])),
  ) as EventBuilders<E>;
}

/**
 * A handler for every type of `E`, given some state `S` and the event narrowed to its
 * type; `null` for a type that is deliberately ignored. A projection declares its fold as
 * one, so a new event type, or a payload field a handler reads that changes, fails to
 * compile until the handler is written or adjusted.
 */
export type EventHandlers<E extends DomainEvent, S, R> = {
  readonly [T in E['type']]: ((state: S, event: EventOf<E, T>) => R) | null;
};

/** A handler map without ignored types: every type of `E` is handled. */
export type EventFolds<E extends DomainEvent, S, R> = {
  readonly [T in E['type']]: (state: S, event: EventOf<E, T>) => R;
};

/** Runs the handler of `event`'s type; null when the map ignores that type. */
export function handleEvent<E extends DomainEvent, S, R>(
  handlers: EventFolds<E, S, R>,
  state: S,
  event: E,
): R;
export function handleEvent<E extends DomainEvent, S, R>(
  handlers: EventHandlers<E, S, R>,
  state: S,
  event: E,
): R | null;
export function handleEvent<E extends DomainEvent, S, R>(
  handlers: EventHandlers<E, S, R>,
  state: S,
  event: E,
): R | null {
  // Each entry takes its own event type; TypeScript cannot relate `handlers[event.type]`
  // to `event`, so the call is widened here, once.
  const handler = handlers[event.type as E['type']] as ((state: S, event: E) => R) | null;
  return handler ? handler(state, event) : null;
}

/** The types a handler map handles (its non-null entries), in declaration order. */
export const handledEventTypes = <E extends DomainEvent, S, R>(
  handlers: EventHandlers<E, S, R>,
): readonly E['type'][] =>
  Object.freeze((Object.keys(handlers) as E['type'][]).filter((type) => handlers[type] !== null));
