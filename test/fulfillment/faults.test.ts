import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandHandler } from '../../src/commands/handler.js';
import type { PendingStream, UnitOfWork } from '../../src/commands/unit-of-work.js';
import { shipmentIdFor } from '../../src/fulfillment/ids.js';
import { fulfillmentDecider } from '../../src/fulfillment/process.js';
import { fulfillmentProcess, type FulfillmentProcess } from '../../src/fulfillment/runner.js';
import { createLogger } from '../../src/observability/logger.js';
import { ProjectionRuntime } from '../../src/projections/runtime.js';
import { useTestApp } from '../support/app.js';
import { engine } from '../support/db.js';
import { payOrder, seedOrder, type Seeded } from '../support/seed.js';
import { eventually } from '../support/wait.js';
import { shipmentStreamId } from '../../src/fulfillment/events.js';
import { fulfillmentStreamId } from '../../src/fulfillment/events.js';

/**
 * The fulfillment runner when its work fails: a transient failure of its commit (a lost
 * connection) is retried with backoff until it goes through, once; a command that fails
 * for good (its decider throws something other than a business refusal) is recorded
 * (process FAILED, the failure in its state, on the order's timeline and among the
 * process's problems) and the other orders go on.
 */

const TIMELINE = `query($id: ID!) { order(id: $id) { timeline { type description } } }`;

/** A command of the process, as the faulty unit of work sees it. */
type Sent = { type: string; data: Record<string, unknown> };

describe(`fulfillment runner under faults on ${engine}`, () => {
  // The app without its own process: the one under test runs beside it, on the same log.
  const { t, s } = useTestApp({ overrides: { fulfillment: false } });
  let runtime: ProjectionRuntime;
  let process: FulfillmentProcess;
  /** Whether the commit of these pending streams fails now, for a transient reason. */
  let commitFault: (pending: PendingStream[]) => boolean = () => false;
  /** Whether deciding this command fails for good. */
  let decideFault: (command: Sent) => boolean = () => false;
  const attempts = new Map<string, number>();

  beforeAll(async () => {
    const real = s.app.services.commands;
    const faulty = Object.create(real) as CommandHandler;
    faulty.unitOfWork = () => {
      const uow = real.unitOfWork();
      const commit = uow.commit.bind(uow);
      const decide = uow.decide.bind(uow);
      uow.commit = () =>
        commitFault(uow.pending())
          ? Promise.reject(
              Object.assign(new Error('connection terminated unexpectedly'), { code: '08006' }),
            )
          : commit();
      uow.decide = ((decider, streamId, command, metadata) => {
        const c = command as Sent;
        const key = `${c.type}:${streamId}`;
        attempts.set(key, (attempts.get(key) ?? 0) + 1);
        if (decideFault(c)) throw new Error('carrier system rejected the parcel');
        return decide(decider, streamId, command, metadata);
      }) as UnitOfWork['decide'];
      return uow;
    };
    process = fulfillmentProcess(faulty, s.app.store, {});
    runtime = new ProjectionRuntime(
      t.db,
      s.app.store,
      s.app.notifier,
      [process],
      createLogger('silent'),
      { idleMs: 100 },
    );
    await runtime.start();
  });
  afterAll(async () => {
    await runtime?.stop();
  });

  const processOf = async (o: Seeded) =>
    (await s.app.services.commands.load(fulfillmentDecider, fulfillmentStreamId(o.orderId))).state;

  it('retries a step that fails for a transient reason, and takes it once', async () => {
    const o = await seedOrder(s, 10);
    let failures = 0;
    // Every commit that would reserve this order's stock fails twice, then goes through.
    commitFault = (pending) =>
      pending.some(
        (p) =>
          p.streamId === `product-${o.productId}` &&
          p.events.some(
            (e) =>
              e.type === 'StockReserved' && (e.data as { orderId?: string }).orderId === o.orderId,
          ),
      ) && failures++ < 2;
    await payOrder(s, o);
    const ready = await eventually('the order reserved after the retries', async () => {
      const st = await processOf(o);
      return st.status === 'READY_TO_SHIP' ? st : undefined;
    });
    expect(failures).toBe(3); // two failed, the third went through
    expect(ready.failures).toEqual([]);
    const reserved = (await s.app.store.readStream(`product-${o.productId}`)).filter(
      (e) => e.type === 'StockReserved',
    );
    expect(reserved).toHaveLength(1);
  });

  it('records a step that fails for good, and goes on with the other orders', async () => {
    const doomed = await seedOrder(s, 10);
    const fine = await seedOrder(s, 10);
    const doomedShipment = shipmentIdFor(doomed.orderId);
    commitFault = () => false;
    decideFault = (c) => c.type === 'CreateShipment' && c.data.shipmentId === doomedShipment;
    await payOrder(s, doomed);
    await payOrder(s, fine);

    const failed = await eventually('the failure recorded', async () => {
      const st = await processOf(doomed);
      return st.status === 'FAILED' ? st : undefined;
    });
    expect(failed.failures).toEqual([
      expect.objectContaining({
        step: 'create-shipment',
        reason: 'carrier system rejected the parcel',
      }),
    ]);
    // Failed for good: tried once, not again and again.
    expect(attempts.get(`CreateShipment:${shipmentStreamId(doomedShipment)}`)).toBe(1);
    expect(await s.app.store.readStream(shipmentStreamId(doomedShipment))).toEqual([]);

    const other = await eventually('the other order ready to ship', async () => {
      const st = await processOf(fine);
      return st.status === 'READY_TO_SHIP' ? st : undefined;
    });
    expect(other.failures).toEqual([]);

    const line = await eventually('the failure on the timeline', async () => {
      const r = await s.graphql<any>(TIMELINE, { id: doomed.orderId }, doomed.admin);
      const entries = r.body.data?.order?.timeline as { type: string; description: string }[];
      return entries?.find((e) => e.type === 'FulfillmentFailed');
    });
    expect(line.description).toMatch(/carrier system rejected the parcel/);
    expect(await process.problems!(10)).toContainEqual(
      expect.objectContaining({ key: doomed.orderId, type: 'FulfillmentFailed' }),
    );
  });
});
