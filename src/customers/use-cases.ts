import { canActForCustomer } from '../auth/principal.js';
import type { CommandEnvelope, Loaded } from '../commands/handler.js';
import type { UseCaseDeps, UseCaseResult } from '../commands/use-case.js';
import type { StreamAppend } from '../eventstore/types.js';
import { forbidden } from '../shared/decider.js';
import { customerDecider, customerStreamId } from './decider.js';
import { emailReservationDecider, emailReservationStreamId } from './email-reservation.js';

/*
 * The customers' use cases. An email address belongs to one customer at a time: each
 * command that sets one claims its reservation stream (and releases the previous one) in
 * the same append as the customer's own event.
 */

export interface CustomerResult extends UseCaseResult {
  customerId: string;
}

export interface RegisterCustomerInput {
  /** The new customer's id; a customer caller's own id, or a new one, when absent. */
  id?: string | null | undefined;
  name: string;
  email: string;
  phone: string;
}

/** Registers a customer; a customer caller may register only its own id. */
export async function registerCustomer(
  deps: UseCaseDeps,
  input: RegisterCustomerInput,
  envelope: CommandEnvelope,
): Promise<CustomerResult> {
  const { principal } = envelope;
  const customerId = (
    input.id ??
    (principal.role === 'customer' ? principal.customerId : undefined) ??
    deps.newId()
  ).toLowerCase();
  if (!canActForCustomer(principal, customerId)) {
    throw forbidden('A customer may only register itself');
  }
  const result = await deps.commands.execute(
    customerDecider,
    customerStreamId(customerId),
    {
      type: 'RegisterCustomer',
      data: {
        customerId,
        name: input.name,
        email: input.email,
        phone: input.phone,
        now: deps.now().toISOString(),
      },
    },
    envelope,
    { companions: () => emailReservations(deps, customerId, input.email, undefined) },
  );
  // A replay answers with the first run's stream: a server-chosen id differs each run.
  return {
    cursor: result.cursor,
    version: result.version,
    customerId: result.streamId.replace(/^customer-/, ''),
  };
}

/** Moves a customer to another email address; a customer caller only its own. */
export async function changeCustomerEmail(
  deps: UseCaseDeps,
  input: { customerId: string; email: string },
  envelope: CommandEnvelope,
): Promise<CustomerResult> {
  const customerId = input.customerId.toLowerCase();
  if (!canActForCustomer(envelope.principal, customerId)) {
    throw forbidden('A customer may only change its own email');
  }
  let previous: string | undefined;
  const result = await deps.commands.execute(
    customerDecider,
    customerStreamId(customerId),
    {
      type: 'ChangeCustomerEmail',
      data: { customerId, email: input.email, now: deps.now().toISOString() },
    },
    envelope,
    {
      authorize: (state) => {
        previous = state.status === 'REGISTERED' ? state.email : undefined;
      },
      companions: () => emailReservations(deps, customerId, input.email, previous),
    },
  );
  return { cursor: result.cursor, version: result.version, customerId };
}

/** The reservation appends that move `customerId`'s email from `previous` to `next`. */
async function emailReservations(
  deps: UseCaseDeps,
  customerId: string,
  next: string,
  previous: string | undefined,
): Promise<StreamAppend[]> {
  const appends: StreamAppend[] = [];
  const claimId = emailReservationStreamId(next);
  const claim = await deps.commands.load(emailReservationDecider, claimId);
  const claimed = emailReservationDecider.decide(
    { type: 'ClaimEmail', data: { customerId, email: next } },
    claim.state,
  );
  if (claimed.length) appends.push(reservationAppend(claimId, claim, claimed));
  if (previous !== undefined) {
    const releaseId = emailReservationStreamId(previous);
    if (releaseId !== claimId) {
      const release = await deps.commands.load(emailReservationDecider, releaseId);
      const released = emailReservationDecider.decide(
        { type: 'ReleaseEmail', data: { customerId } },
        release.state,
      );
      if (released.length) appends.push(reservationAppend(releaseId, release, released));
    }
  }
  return appends;
}

const reservationAppend = (
  streamId: string,
  loaded: Loaded<unknown>,
  events: StreamAppend['events'],
): StreamAppend => ({
  streamId,
  streamType: emailReservationDecider.streamType,
  events,
  expected: loaded.version === 0 ? 'noStream' : loaded.version,
});
