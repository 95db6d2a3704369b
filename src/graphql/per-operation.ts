import type { DocumentNode, GraphQLSchema } from 'graphql';

/**
 * `compute` for each operation of a parsed document, done once: yoga reuses the parsed
 * document of a repeated query, so what depends only on the document (and the one schema)
 * is worked out on its first request. Kept in a WeakMap by document, so bounded by yoga's
 * parse cache.
 */
export function perOperation<T>(
  compute: (schema: GraphQLSchema, document: DocumentNode, operationName: string | null) => T,
): (schema: GraphQLSchema, document: DocumentNode, operationName?: string | null) => T {
  const byDocument = new WeakMap<DocumentNode, Map<string | null, T>>();
  return (schema, document, operationName = null) => {
    let byName = byDocument.get(document);
    if (!byName) {
      byName = new Map();
      byDocument.set(document, byName);
    }
    if (byName.has(operationName)) return byName.get(operationName)!;
    const value = compute(schema, document, operationName);
    byName.set(operationName, value);
    return value;
  };
}
