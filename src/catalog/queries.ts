import { builder } from '../graphql/builder.js';
import {
  checkFirst,
  connection,
  connectionType,
  decodePageCursor,
  encodePageCursor,
  requireReader,
  uuidArgument,
} from '../graphql/read.js';
import { ProductRef } from './graphql.js';
import { countProducts, productsPage, type ProductKey, type ProductView } from './projections.js';

/*
 * Catalogue queries (read model `products`). Any authenticated caller may read the
 * catalogue.
 */

const PRODUCTS_MAX_FIRST = 100;
const PRODUCT_CURSOR = 'p1';

const ProductConnectionRef = connectionType('Product', ProductRef, {
  totalCount: true,
  description: 'Products by name (then id)',
});

function parseProductKey(v: unknown): ProductKey {
  if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== 'string' || typeof v[1] !== 'string')
    throw new Error('bad cursor');
  return { name: v[0], id: v[1] };
}

builder.queryField('product', (t) =>
  t.field({
    type: ProductRef,
    nullable: true,
    description: 'A product of the catalogue; null when there is none with this id',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) => {
      requireReader(ctx);
      return ctx.loaders.product.load(uuidArgument('id', id));
    },
  }),
);

builder.queryField('products', (t) =>
  t.field({
    type: ProductConnectionRef,
    description: 'The catalogue, by name; at most 100 per page',
    args: {
      first: t.arg.int({ required: false, defaultValue: 20 }),
      after: t.arg.string({ required: false }),
    },
    resolve: async (_root, args, ctx) => {
      requireReader(ctx);
      const limit = checkFirst(args.first, 20, PRODUCTS_MAX_FIRST);
      const after = decodePageCursor(PRODUCT_CURSOR, args.after, parseProductKey);
      const page = await productsPage(ctx.db, { limit, after });
      for (const p of page.rows) ctx.loaders.product.prime(p.id, p);
      return connection<ProductView>(
        page.rows,
        (p) => encodePageCursor(PRODUCT_CURSOR, [p.name, p.id]),
        page.hasNextPage,
        () => countProducts(ctx.db),
      );
    },
  }),
);
