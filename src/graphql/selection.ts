import { Kind, type FieldNode, type GraphQLResolveInfo, type SelectionSetNode } from 'graphql';

/**
 * What a client may select of an object for it to be answered without the read models:
 * `true` for a field with any sub-selection, or the allowed sub-fields.
 */
export type SelectionShape = { readonly [field: string]: true | SelectionShape };

/**
 * Whether everything selected under the current field (`info`) lies within `shape`.
 * Fragments (inline and named) are followed; `__typename` is always allowed; a field under
 * `@skip`/`@include` counts as selected (the answer must hold whatever the variables say).
 */
export function selectionWithin(info: GraphQLResolveInfo, shape: SelectionShape): boolean {
  const within = (set: SelectionSetNode | undefined, s: SelectionShape): boolean => {
    if (!set) return true;
    return set.selections.every((sel) => {
      switch (sel.kind) {
        case Kind.FIELD: {
          const name = sel.name.value;
          if (name === '__typename') return true;
          const allowed = s[name];
          if (allowed === undefined) return false;
          return allowed === true || within(sel.selectionSet, allowed);
        }
        case Kind.INLINE_FRAGMENT:
          return within(sel.selectionSet, s);
        case Kind.FRAGMENT_SPREAD: {
          const fragment = info.fragments[sel.name.value];
          return fragment ? within(fragment.selectionSet, s) : false;
        }
        default: {
          const never: never = sel;
          return never;
        }
      }
    });
  };
  return info.fieldNodes.every((node: FieldNode) => within(node.selectionSet, shape));
}

/**
 * Whether the current field (`info`) selects `field` directly (fragments followed; a
 * field under `@skip`/`@include` counts as selected): to read what it needs up front.
 */
export function selectsField(info: GraphQLResolveInfo, field: string): boolean {
  const has = (set: SelectionSetNode | undefined): boolean =>
    set?.selections.some((sel) => {
      switch (sel.kind) {
        case Kind.FIELD:
          return sel.name.value === field;
        case Kind.INLINE_FRAGMENT:
          return has(sel.selectionSet);
        case Kind.FRAGMENT_SPREAD:
          return has(info.fragments[sel.name.value]?.selectionSet);
        default: {
          const never: never = sel;
          return never;
        }
      }
    }) ?? false;
  return info.fieldNodes.some((node: FieldNode) => has(node.selectionSet));
}
