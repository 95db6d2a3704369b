import type { ObjectRef } from '@pothos/core';
import { builder } from './builder.js';
import type { CommandSuccess } from './commands.js';

/** `<Name>Success { cursor version <field> }` for a mutation's payload union. */
/** Any object type of this schema whose shape is T. */
type EntityRef<T> = ObjectRef<typeof builder extends { $inferSchemaTypes: infer S } ? S : never, T>;

export function successType<T>(name: string, field: string, entity: EntityRef<T>) {
  return builder.objectRef<CommandSuccess<T>>(name).implement({
    fields: (t) => ({
      cursor: t.field({
        type: 'Cursor',
        description:
          'Cursor of the last event the command appended: pass it as `consistentWith` or `after`',
        resolve: (s) => s.cursor,
      }),
      version: t.exposeInt('version', { description: "The stream's version after the command" }),
      [field]: t.field({
        type: entity as EntityRef<unknown>,
        resolve: (s, _args, _ctx, info) => s.entity(info) as never,
      }),
    }),
  });
}
