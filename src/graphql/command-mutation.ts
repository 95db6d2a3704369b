import type { InputObjectRef } from '@pothos/core';
import { isStaff } from '../auth/principal.js';
import type { CommandEnvelope } from '../commands/handler.js';
import type { UseCaseResult } from '../commands/use-case.js';
import { builder } from './builder.js';
import { asCommand, checkUuids, envelope, requirePrincipal } from './commands.js';
import { commandCaughtUp, readModelsOf } from './consistency.js';
import type { GraphQLContext, Loaders } from './context.js';
import {
  COMMAND_ERRORS,
  ForbiddenErrorResult,
  ValidationErrorResult,
  type TypedError,
} from './errors.js';
import { inputProblems } from './input-gate.js';
import { subSelection, type SelectionShape, type SubSelection } from './selection.js';
import { successType } from './success.js';

type Types = typeof builder extends PothosSchemaTypes.SchemaBuilder<infer T> ? T : never;

/** An object type of this schema whose shape is T (the entity a `…Success` shows). */
type EntityRef<T> = Parameters<typeof successType<T>>[2];

/** A mutation input: every one carries the client's `commandId`. */
export type CommandInput = { commandId: string | number } & Record<string, unknown>;

export interface CommandMutation<Input extends CommandInput, Result extends UseCaseResult, Entity> {
  description?: string;
  /** The input type; the mutation takes it as `input`. */
  input: InputObjectRef<Types, Input>;
  /** `false` (default): any authenticated caller; `true`: admin or service only. */
  staffOnly?: boolean;
  /** The input's ids that must be uuids, by their path in the input (besides `commandId`). */
  uuids?: (input: Input) => Record<string, unknown>;
  /** Shapes the input and runs the use case (the context is its deps). */
  run: (ctx: GraphQLContext, input: Input, envelope: CommandEnvelope) => Promise<Result>;
  /** The `…Success`'s entity: its field name and type, and where its answer comes from. */
  entity: CommandEntity<Result, Entity>;
  /** The typed errors of the payload union; the six of COMMAND_ERRORS by default. */
  errors?: (new (...args: never[]) => TypedError)[];
}

/**
 * The entity of a command's `…Success` (docs/adr/0018-mutation-answers-when-read-models-lag.md):
 * the read model's row once the read models have applied the command, else that row as it
 * stands with what the command's own resulting state answers taken from that state.
 */
export interface CommandEntity<Result, Entity> {
  field: string;
  type: EntityRef<Entity>;
  /** The entity's row in the read models as they stand (no waiting); null without one yet. */
  read: (loaders: Loaders, result: Result) => Promise<Entity | null>;
  /**
   * What the command's resulting state answers of the entity exactly as the read model
   * will once it has applied the command: the fields of `shape`, whose names are the
   * entity's own property names (taken over the row's when the read models lag).
   */
  state: {
    shape: SelectionShape;
    /**
     * The entity as the command left it, built from the state in the result, for a
     * selection within `shape` to be answered at once, without waiting for the read
     * models; null when the result has none (a replay). Absent: the entity always waits.
     */
    fromResult?: (result: Result) => Entity | null;
    /**
     * The entity from the state the command left (loaded for a replay), every field with
     * an honest answer: when the read models lag it stands in for, or over, their row.
     */
    load: (ctx: GraphQLContext, result: Result) => Promise<Entity | null>;
  };
}

/** The names of the command mutations: their input is checked by their own resolver. */
export const COMMAND_MUTATIONS = new Set<string>();

/**
 * Declares the command mutation `operation` (docs/architecture.md, "Mutations are
 * commands"): `operation(input: <Name>Input!): <Name>Payload`, the union of
 * `<Name>Success { cursor version caughtUp <entity> }` and the typed errors. Every call runs the
 * same steps in the same order:
 *
 * 1. authentication (ForbiddenError UNAUTHENTICATED), then the role (`staffOnly`);
 * 2. input ids: `commandId` and the declared ones must be uuids (one ValidationError);
 * 3. the envelope (caller, correlation id, operation, the input minus `commandId` for the
 *    idempotency fingerprint) and the use case;
 * 4. the entity and `caughtUp`, only if the client selects them: the entity built from the
 *    command's resulting state at once when the selection lies within what that state
 *    answers (`state.fromResult`); otherwise read once the read models it reaches have
 *    applied the command's cursor, waiting at most `commandReadWaitMs`; past that, the
 *    read model's row as it stands with the state's fields over it (or the state alone
 *    when there is no row yet), and `caughtUp: false`. A committed command never answers
 *    an error because the read models lag;
 *
 * and maps expected failures to payload members; anything else is logged and masked.
 */
export function commandMutation<Input extends CommandInput, Result extends UseCaseResult, Entity>(
  operation: string,
  spec: CommandMutation<Input, Result, Entity>,
): void {
  const name = `${operation[0]!.toUpperCase()}${operation.slice(1)}`;
  COMMAND_MUTATIONS.add(operation);
  builder.mutationField(operation, (t) =>
    t.field({
      type: successType(`${name}Success`, spec.entity.field, spec.entity.type),
      ...(spec.description !== undefined ? { description: spec.description } : {}),
      args: { input: t.arg({ type: spec.input, required: true }) },
      errors: {
        types: spec.errors ?? COMMAND_ERRORS,
        directResult: true,
        union: { name: `${name}Payload` },
      },
      resolve: (_root, args, ctx, info) =>
        asCommand(ctx, operation, async () => {
          const { input } = args as { input: Input };
          const principal = requirePrincipal(ctx);
          if (spec.staffOnly && !isStaff(principal)) {
            throw new ForbiddenErrorResult('Only admin or service callers may do this');
          }
          // The input gate (input-gate.ts): text that no command may hold, named by path.
          const fields = info.parentType.getFields();
          const inputArg = fields[info.fieldName]!.args.find((a) => a.name === 'input')!;
          const bad = inputProblems(inputArg.type, input, '');
          if (bad.length) throw new ValidationErrorResult('Invalid input', bad);
          checkUuids({ commandId: String(input.commandId), ...spec.uuids?.(input) });
          const result = await spec.run(ctx, input, envelope(ctx, principal, operation, input));
          const wanted = subSelection(info, `${name}Success`, spec.entity.field);
          let answer: Promise<Answer<Entity>> | undefined;
          const answered = () =>
            (answer ??= asCommand(ctx, operation, () =>
              answerOf(ctx, spec.entity, result, wanted),
            ));
          return {
            cursor: result.cursor,
            version: result.version,
            caughtUp: async () => (await answered()).caughtUp,
            entity: async () => (await answered()).entity!,
          };
        }),
    }),
  );
}

/** What a `…Success` answers besides its cursor and version. */
interface Answer<Entity> {
  caughtUp: boolean;
  /** Absent when the client did not select the entity. */
  entity?: Entity;
}

/** The entity and `caughtUp` of a success (step 4 of {@link commandMutation}). */
async function answerOf<Result extends UseCaseResult, Entity>(
  ctx: GraphQLContext,
  spec: CommandEntity<Result, Entity>,
  result: Result,
  wanted: SubSelection,
): Promise<Answer<Entity>> {
  const { shape, fromResult, load } = spec.state;
  if (wanted.selected && fromResult && wanted.within(shape)) {
    const built = fromResult(result);
    if (built !== null) return { caughtUp: true, entity: built };
  }
  const caughtUp = await commandCaughtUp(ctx, result.cursor, readModelsOf(spec.type.name));
  if (!wanted.selected) return { caughtUp };
  const row = await spec.read(ctx.loaders, result);
  if (caughtUp) {
    if (row === null)
      throw new Error(`${spec.type.name} is missing from the read model at ${result.cursor}`);
    return { caughtUp, entity: row };
  }
  const fromState = fromResult?.(result) ?? (await load(ctx, result));
  if (row === null || fromState === null) {
    const entity = row ?? fromState;
    if (entity === null) throw new Error(`${spec.type.name} of ${result.cursor} has no state`);
    return { caughtUp, entity };
  }
  const taken = Object.fromEntries(
    Object.keys(shape).map((k) => [k, (fromState as Record<string, unknown>)[k]]),
  );
  return { caughtUp, entity: { ...row, ...taken } };
}
