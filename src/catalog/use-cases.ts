import type { CommandEnvelope } from '../commands/handler.js';
import type { UseCaseDeps, UseCaseResult } from '../commands/use-case.js';
import type { Money } from '../shared/money.js';
import type { ProductCommand } from './commands.js';
import { productDecider, productStreamId } from './decider.js';

/*
 * The catalogue's use cases: one function per command, run through the command handler.
 * Who may call them at all (staff) is the caller's concern; ids arrive as strings in any
 * case and are lower-cased here.
 */

export interface ProductResult extends UseCaseResult {
  productId: string;
}

export interface RegisterProductInput {
  /** The new product's id; drawn from `deps.newId()` when absent. */
  id?: string | null | undefined;
  name: string;
  imageUrl: string;
  price: Money;
  initialStock: number;
}

export async function registerProduct(
  deps: UseCaseDeps,
  input: RegisterProductInput,
  envelope: CommandEnvelope,
): Promise<ProductResult> {
  // The id is drawn before the idempotency check, but a replay answers with the first
  // run's stream, so a retried registerProduct never makes a second product.
  const productId = (input.id ?? deps.newId()).toLowerCase();
  const result = await deps.commands.execute(
    productDecider,
    productStreamId(productId),
    {
      type: 'RegisterProduct',
      data: {
        productId,
        name: input.name,
        imageUrl: input.imageUrl,
        price: input.price,
        initialStock: input.initialStock,
        now: deps.now().toISOString(),
      },
    },
    envelope,
  );
  return {
    cursor: result.cursor,
    version: result.version,
    productId: result.streamId.replace(/^product-/, ''),
  };
}

export const restockProduct = (
  deps: UseCaseDeps,
  input: { productId: string; quantity: number },
  envelope: CommandEnvelope,
): Promise<ProductResult> =>
  onProduct(deps, input.productId, envelope, (productId, now) => ({
    type: 'RestockProduct',
    data: { productId, quantity: input.quantity, now },
  }));

export const changeProductPrice = (
  deps: UseCaseDeps,
  input: { productId: string; price: Money },
  envelope: CommandEnvelope,
): Promise<ProductResult> =>
  onProduct(deps, input.productId, envelope, (productId, now) => ({
    type: 'ChangeProductPrice',
    data: { productId, price: input.price, now },
  }));

/** Runs a command on an existing product. */
async function onProduct(
  deps: UseCaseDeps,
  id: string,
  envelope: CommandEnvelope,
  command: (productId: string, now: string) => ProductCommand,
): Promise<ProductResult> {
  const productId = id.toLowerCase();
  const result = await deps.commands.execute(
    productDecider,
    productStreamId(productId),
    command(productId, deps.now().toISOString()),
    envelope,
  );
  return { cursor: result.cursor, version: result.version, productId };
}
