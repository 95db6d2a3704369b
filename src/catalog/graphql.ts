import { builder } from '../graphql/builder.js';
import { asCommand, checkUuids, envelope, requireStaff } from '../graphql/commands.js';
import type { GraphQLContext } from '../graphql/context.js';
import { readAfterWrite, readModelsReach } from '../graphql/consistency.js';
import { COMMAND_ERRORS } from '../graphql/errors.js';
import { commandIdField, MoneyInput, MoneyRef } from '../graphql/shared-types.js';
import { successType } from '../graphql/success.js';
import type { ProductCommand } from './commands.js';
import { CATALOG_PROJECTION, type ProductView } from './projections.js';
import { productDecider, productStreamId } from './decider.js';

readModelsReach('Product', { models: [CATALOG_PROJECTION] });

export const ProductRef = builder.objectRef<ProductView>('Product').implement({
  description: 'Something the catalogue sells',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    imageUrl: t.exposeString('imageUrl'),
    price: t.field({ type: MoneyRef, resolve: (p) => p.price }),
    availableStock: t.exposeInt('availableStock', {
      description: 'Units on hand that no order has reserved',
    }),
  }),
});

/** The product from the read model once it has caught up with `cursor` (read-your-writes). */
const readProductAfter = (ctx: GraphQLContext, productId: string, cursor: string) =>
  readAfterWrite(ctx, cursor, 'Product', (l) => l.product.load(productId), `product ${productId}`);

/**
 * A staff command on an existing product, answered with the product from the read model
 * once it shows the command's effect.
 */
async function runProductCommand(
  ctx: GraphQLContext,
  operation: string,
  input: { commandId: string | number; productId: string | number } & Record<string, unknown>,
  command: (productId: string, now: string) => ProductCommand,
) {
  const env = envelope(ctx, operation, { ...input, commandId: String(input.commandId) });
  requireStaff(ctx);
  checkUuids({ productId: input.productId });
  const productId = String(input.productId).toLowerCase();
  const result = await ctx.commands.execute(
    productDecider,
    productStreamId(productId),
    command(productId, ctx.now().toISOString()),
    env,
  );
  return {
    cursor: result.cursor,
    version: result.version,
    entity: await readProductAfter(ctx, productId, result.cursor),
  };
}

const PRODUCT_ERRORS = COMMAND_ERRORS;

const RegisterProductInput = builder.inputType('RegisterProductInput', {
  fields: (t) => ({
    commandId: t.id(commandIdField),
    id: t.id({
      required: false,
      description: 'The new product id (uuid); chosen by the server when omitted',
    }),
    name: t.string({ required: true }),
    imageUrl: t.string({ required: true }),
    price: t.field({ type: MoneyInput, required: true }),
    initialStock: t.int({ required: true }),
  }),
});

builder.mutationField('registerProduct', (t) =>
  t.field({
    type: successType('RegisterProductSuccess', 'product', ProductRef),
    description: 'Adds a product to the catalogue (admin or service).',
    args: { input: t.arg({ type: RegisterProductInput, required: true }) },
    errors: {
      types: PRODUCT_ERRORS,
      directResult: true,
      union: { name: 'RegisterProductPayload' },
    },
    resolve: (_root, { input }, ctx) =>
      asCommand(ctx, 'registerProduct', async () => {
        const env = envelope(ctx, 'registerProduct', {
          ...input,
          commandId: String(input.commandId),
        });
        requireStaff(ctx);
        checkUuids({ id: input.id });
        const productId = String(input.id ?? ctx.newId()).toLowerCase();
        const result = await ctx.commands.execute(
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
              now: ctx.now().toISOString(),
            },
          },
          env,
        );
        // A replay answers with the first run's stream: a server-chosen id differs each run.
        const id = result.streamId.replace(/^product-/, '');
        return {
          cursor: result.cursor,
          version: result.version,
          entity: await readProductAfter(ctx, id, result.cursor),
        };
      }),
  }),
);

const RestockProductInput = builder.inputType('RestockProductInput', {
  fields: (t) => ({
    commandId: t.id(commandIdField),
    productId: t.id({ required: true }),
    quantity: t.int({ required: true }),
  }),
});

builder.mutationField('restockProduct', (t) =>
  t.field({
    type: successType('RestockProductSuccess', 'product', ProductRef),
    description: 'Adds units to a product’s stock (admin or service).',
    args: { input: t.arg({ type: RestockProductInput, required: true }) },
    errors: { types: PRODUCT_ERRORS, directResult: true, union: { name: 'RestockProductPayload' } },
    resolve: (_root, { input }, ctx) =>
      asCommand(ctx, 'restockProduct', () =>
        runProductCommand(ctx, 'restockProduct', input, (productId, now) => ({
          type: 'RestockProduct',
          data: { productId, quantity: input.quantity, now },
        })),
      ),
  }),
);

const ChangeProductPriceInput = builder.inputType('ChangeProductPriceInput', {
  fields: (t) => ({
    commandId: t.id(commandIdField),
    productId: t.id({ required: true }),
    price: t.field({ type: MoneyInput, required: true }),
  }),
});

builder.mutationField('changeProductPrice', (t) =>
  t.field({
    type: successType('ChangeProductPriceSuccess', 'product', ProductRef),
    description: 'Changes the price of a product for orders from now on (admin or service).',
    args: { input: t.arg({ type: ChangeProductPriceInput, required: true }) },
    errors: {
      types: PRODUCT_ERRORS,
      directResult: true,
      union: { name: 'ChangeProductPricePayload' },
    },
    resolve: (_root, { input }, ctx) =>
      asCommand(ctx, 'changeProductPrice', () =>
        runProductCommand(ctx, 'changeProductPrice', input, (productId, now) => ({
          type: 'ChangeProductPrice',
          data: { productId, price: input.price, now },
        })),
      ),
  }),
);
