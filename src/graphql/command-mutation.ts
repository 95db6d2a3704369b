import type { GraphQLResolveInfo } from 'graphql';
import type { InputObjectRef } from '@pothos/core';
import { isStaff } from '../auth/principal.js';
import type { CommandEnvelope } from '../commands/handler.js';
import type { UseCaseResult } from '../commands/use-case.js';
import { builder } from './builder.js';
import { asCommand, checkUuids, envelope, requirePrincipal } from './commands.js';
import type { GraphQLContext } from './context.js';
import {
  COMMAND_ERRORS,
  ForbiddenErrorResult,
  ValidationErrorResult,
  type TypedError,
} from './errors.js';
import { inputProblems } from './input-gate.js';
import { selectionWithin, type SelectionShape } from './selection.js';
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
  /** The `…Success`'s entity: its field name, type and how to read it after the write. */
  entity: {
    field: string;
    type: EntityRef<Entity>;
    read: (ctx: GraphQLContext, result: Result) => Promise<Entity>;
    /**
     * The entity as the command left it, built from its resulting state, for selections
     * within `shape`: answered at once, without waiting for the read models. Null when
     * the result has no state (a replay of an earlier run): then it is read.
     */
    fromResult?: { shape: SelectionShape; build: (result: Result) => Entity | null };
  };
  /** The typed errors of the payload union; the six of COMMAND_ERRORS by default. */
  errors?: (new (...args: never[]) => TypedError)[];
}

/** The names of the command mutations: their input is checked by their own resolver. */
export const COMMAND_MUTATIONS = new Set<string>();

/**
 * Declares the command mutation `operation` (docs/architecture.md, "Mutations are
 * commands"): `operation(input: <Name>Input!): <Name>Payload`, the union of
 * `<Name>Success { cursor version <entity> }` and the typed errors. Every call runs the
 * same steps in the same order:
 *
 * 1. authentication (ForbiddenError UNAUTHENTICATED), then the role (`staffOnly`);
 * 2. input ids: `commandId` and the declared ones must be uuids (one ValidationError);
 * 3. the envelope (caller, correlation id, operation, the input minus `commandId` for the
 *    idempotency fingerprint) and the use case;
 * 4. the entity, only if the client selects it: built from the command's resulting state
 *    when the selection lies within what that state can answer (`fromResult`), otherwise
 *    read once the read models it reaches have applied the command's cursor;
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
          const { read, fromResult } = spec.entity;
          return {
            cursor: result.cursor,
            version: result.version,
            entity: (info: GraphQLResolveInfo) => {
              const built =
                fromResult && selectionWithin(info, fromResult.shape)
                  ? fromResult.build(result)
                  : null;
              return built !== null
                ? Promise.resolve(built)
                : asCommand(ctx, operation, () => read(ctx, result));
            },
          };
        }),
    }),
  );
}
