import {
  getNamedType,
  Kind,
  type FieldNode,
  type GraphQLResolveInfo,
  type SelectionSetNode,
} from 'graphql';

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
  return nodesWithin(info.fieldNodes, info.fragments, shape);
}

/** Whether everything selected under each of `nodes` lies within `shape` (see above). */
function nodesWithin(
  nodes: readonly FieldNode[],
  fragments: GraphQLResolveInfo['fragments'],
  shape: SelectionShape,
): boolean {
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
          const fragment = fragments[sel.name.value];
          return fragment ? within(fragment.selectionSet, s) : false;
        }
        default: {
          const never: never = sel;
          return never;
        }
      }
    });
  };
  return nodes.every((node) => within(node.selectionSet, shape));
}

/** What the current field's selection asks of one of its result type's fields. */
export interface SubSelection {
  /** Whether the field is selected at all (under any alias). */
  selected: boolean;
  /** Whether everything selected under it, under every alias, lies within `shape`. */
  within(shape: SelectionShape): boolean;
}

/**
 * The selection of `field` of the object type `typeName` under the current field (`info`):
 * for a mutation to know, before any of its payload's fields resolve, what the client asks
 * of the entity. Fragments (inline and named) on `typeName`, on the current field's own type
 * (the payload union), or with no type condition, are followed; a field under `@skip`/`@include` counts as selected.
 */
export function subSelection(
  info: GraphQLResolveInfo,
  typeName: string,
  field: string,
): SubSelection {
  // Fragments on the payload (a union of the success and the errors) or on the success.
  const on = new Set([typeName, getNamedType(info.returnType).name]);
  const found: FieldNode[] = [];
  const collect = (set: SelectionSetNode | undefined, seen: Set<string>): void => {
    for (const sel of set?.selections ?? []) {
      switch (sel.kind) {
        case Kind.FIELD:
          if (sel.name.value === field) found.push(sel);
          break;
        case Kind.INLINE_FRAGMENT:
          if (!sel.typeCondition || on.has(sel.typeCondition.name.value))
            collect(sel.selectionSet, seen);
          break;
        case Kind.FRAGMENT_SPREAD: {
          const fragment = info.fragments[sel.name.value];
          if (fragment && !seen.has(sel.name.value) && on.has(fragment.typeCondition.name.value))
            collect(fragment.selectionSet, new Set([...seen, sel.name.value]));
          break;
        }
        default: {
          const never: never = sel;
          return never;
        }
      }
    }
  };
  for (const node of info.fieldNodes) collect(node.selectionSet, new Set());
  return {
    selected: found.length > 0,
    within: (shape) => nodesWithin(found, info.fragments, shape),
  };
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
