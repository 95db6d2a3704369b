import {
  getDirectiveValues,
  GraphQLIncludeDirective,
  GraphQLSkipDirective,
  Kind,
  type DocumentNode,
  type FragmentDefinitionNode,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';

/**
 * The root fields an operation would run, by name, with how many times each runs (every
 * alias and every fragment spread counts again), @skip and @include applied. What the
 * mutation rate limit counts and what decides whether an operation is public.
 *
 * A directive whose variable does not resolve counts as included: execution refuses it
 * anyway. Each fragment is walked once however often it is spread (a fragment bomb costs
 * its size, not its expansion); a fragment cycle, refused by validation, ends at itself.
 */
export function rootFieldCounts(
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown> | null | undefined,
): Map<string, number> {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions)
    if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const vars = variables ?? {};
  const included = (node: Parameters<typeof getDirectiveValues>[1]) => {
    try {
      return (
        getDirectiveValues(GraphQLSkipDirective, node, vars)?.if !== true &&
        getDirectiveValues(GraphQLIncludeDirective, node, vars)?.if !== false
      );
    } catch {
      return true;
    }
  };
  const add = (into: Map<string, number>, from: Map<string, number>) => {
    for (const [name, n] of from) into.set(name, (into.get(name) ?? 0) + n);
  };
  const ofFragment = new Map<string, Map<string, number>>();
  const count = (set: SelectionSetNode): Map<string, number> => {
    const counts = new Map<string, number>();
    for (const sel of set.selections) {
      if (!included(sel)) continue;
      if (sel.kind === Kind.FIELD) {
        counts.set(sel.name.value, (counts.get(sel.name.value) ?? 0) + 1);
      } else if (sel.kind === Kind.INLINE_FRAGMENT) {
        add(counts, count(sel.selectionSet));
      } else {
        const f = fragments.get(sel.name.value);
        if (!f) continue;
        let fields = ofFragment.get(f.name.value);
        if (fields === undefined) {
          ofFragment.set(f.name.value, new Map()); // a cycle ends here
          fields = count(f.selectionSet);
          ofFragment.set(f.name.value, fields);
        }
        add(counts, fields);
      }
    }
    return counts;
  };
  return count(operation.selectionSet);
}
