import type { Principal } from '../auth/principal.js';
import { isTransientDatabaseError } from '../db/index.js';
import { isStaff } from '../auth/principal.js';
import type { CommandEnvelope } from '../commands/handler.js';
import type { GraphQLContext } from './context.js';
import { ForbiddenErrorResult, toTypedError, TypedError, ValidationErrorResult } from './errors.js';
import { isUuid } from '../shared/uuid.js';

export function requirePrincipal(ctx: GraphQLContext): Principal {
  if (!ctx.principal) {
    throw new ForbiddenErrorResult(
      'Authentication required: send "Authorization: Bearer <token>"',
      'UNAUTHENTICATED',
    );
  }
  return ctx.principal;
}

export function requireStaff(ctx: GraphQLContext): Principal {
  const p = requirePrincipal(ctx);
  if (!isStaff(p)) throw new ForbiddenErrorResult('Only admin or service callers may do this');
  return p;
}

/** Checks that every named input id is a uuid; all problems are reported at once. */
export function checkUuids(fields: Record<string, unknown>): void {
  const bad = Object.entries(fields)
    .filter(([, v]) => v !== undefined && v !== null && !isUuid(v))
    .map(([path]) => ({ path, message: 'must be a uuid' }));
  if (bad.length) throw new ValidationErrorResult('Invalid input', bad);
}

/**
 * The envelope of a mutation's command: caller, correlation and the input that the
 * idempotency fingerprint covers (everything but the commandId itself, exactly as the
 * client sent it: a change here would refuse the replay of every stored command).
 */
export function envelope(
  ctx: GraphQLContext,
  principal: Principal,
  operation: string,
  input: { commandId: string | number } & Record<string, unknown>,
): CommandEnvelope {
  const { commandId, ...rest } = input;
  return {
    commandId: String(commandId).toLowerCase(),
    principal,
    correlationId: ctx.correlationId,
    operation,
    input: rest,
  };
}

/**
 * Runs a mutation body, turning expected failures into typed payload members. Anything
 * that is not a typed error (nor maps onto one) is unexpected: logged, and masked by the
 * server.
 */
export async function asCommand<T>(
  ctx: GraphQLContext,
  operation: string,
  body: () => Promise<T>,
): Promise<T> {
  try {
    return await body();
  } catch (err) {
    const typed = toTypedError(err);
    if (typed instanceof TypedError) throw typed;
    if (isTransientDatabaseError(err)) {
      // Answered as UNAVAILABLE (retry with the same commandId): not a bug, but worth seeing.
      ctx.logger.warn(
        { err, correlationId: ctx.correlationId, operation },
        'database unavailable during a mutation',
      );
    } else {
      ctx.logger.error(
        { err, correlationId: ctx.correlationId, operation },
        'unexpected error in mutation',
      );
    }
    throw typed;
  }
}

/** What every `…Success` payload carries, plus the entity it names (docs/architecture.md). */
export interface CommandSuccess<T> {
  /** Cursor of the last event the command appended. */
  cursor: string;
  /** The stream's version after the command. */
  version: number;
  /**
   * Whether the entity reflects the command: built from its resulting state, or read once
   * the read models had applied it (see `commandMutation`). Settled only when selected.
   */
  caughtUp: () => Promise<boolean>;
  /**
   * The entity, read only when the client selects it, and only as far as its selection
   * needs (see `commandMutation`).
   */
  entity: () => Promise<T>;
}
