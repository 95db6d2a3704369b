import { builder } from '../graphql/builder.js';
import { commandMutation, type CommandEntity } from '../graphql/command-mutation.js';
import { readModelsReach } from '../graphql/consistency.js';
import { commandIdField, MoneyInput, MoneyRef } from '../graphql/shared-types.js';
import { productDecider, productStreamId } from './decider.js';
import { CATALOG_PROJECTION, type ProductView } from './projections.js';
import {
  changeProductPrice,
  registerProduct,
  restockProduct,
  type ProductResult,
} from './use-cases.js';

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

/**
 * The `product` of a catalogue command's `…Success`: from the read model once it has
 * caught up with the command (read-your-writes); should it not within the mutation's wait,
 * from the product's stream as the command left it (every field of `Product` is folded
 * from it exactly as the read model folds it).
 */
const productEntity: CommandEntity<ProductResult, ProductView> = {
  field: 'product',
  type: ProductRef,
  read: (loaders, r) => loaders.product.load(r.productId),
  state: {
    shape: { id: true, name: true, imageUrl: true, price: true, availableStock: true },
    load: async (ctx, r) => {
      const { state } = await ctx.commands.load(productDecider, productStreamId(r.productId), {
        version: r.version,
      });
      return state.status === 'REGISTERED'
        ? {
            id: state.productId,
            name: state.name,
            imageUrl: state.imageUrl,
            price: state.price,
            availableStock: state.available,
          }
        : null;
    },
  },
};

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

commandMutation('registerProduct', {
  description: 'Adds a product to the catalogue (admin or service).',
  input: RegisterProductInput,
  staffOnly: true,
  uuids: (input) => ({ id: input.id }),
  run: (ctx, { id, name, imageUrl, price, initialStock }, env) =>
    registerProduct(
      ctx,
      { id: id == null ? null : String(id), name, imageUrl, price, initialStock },
      env,
    ),
  entity: productEntity,
});

const RestockProductInput = builder.inputType('RestockProductInput', {
  fields: (t) => ({
    commandId: t.id(commandIdField),
    productId: t.id({ required: true }),
    quantity: t.int({ required: true }),
  }),
});

commandMutation('restockProduct', {
  description: 'Adds units to a product’s stock (admin or service).',
  input: RestockProductInput,
  staffOnly: true,
  uuids: (input) => ({ productId: input.productId }),
  run: (ctx, input, env) =>
    restockProduct(ctx, { productId: String(input.productId), quantity: input.quantity }, env),
  entity: productEntity,
});

const ChangeProductPriceInput = builder.inputType('ChangeProductPriceInput', {
  fields: (t) => ({
    commandId: t.id(commandIdField),
    productId: t.id({ required: true }),
    price: t.field({ type: MoneyInput, required: true }),
  }),
});

commandMutation('changeProductPrice', {
  description: 'Changes the price of a product for orders from now on (admin or service).',
  input: ChangeProductPriceInput,
  staffOnly: true,
  uuids: (input) => ({ productId: input.productId }),
  run: (ctx, input, env) =>
    changeProductPrice(ctx, { productId: String(input.productId), price: input.price }, env),
  entity: productEntity,
});
