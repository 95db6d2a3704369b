import type { ObjectRef } from '@pothos/core';
import { builder } from './builder.js';
import type { CommandSuccess } from './commands.js';

/** Any object type of this schema whose shape is T. */
type EntityRef<T> = ObjectRef<typeof builder extends { $inferSchemaTypes: infer S } ? S : never, T>;

/** `<Name>Success { cursor version caughtUp <field> }` for a mutation's payload union. */
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
      caughtUp: t.boolean({
        description: `Whether \`${field}\` reflects the command: true when it was built from the command's own resulting state (a selection within what that state answers, answered at once) or read once the read models had applied \`cursor\`; false when they had not within the mutation's wait (STRATA_COMMAND_READ_WAIT_MS, default 1 s: a failover, a rebuild, a stopped projection). The command is applied either way. When false, \`${field}\` is the read model as it stands, with the fields that the command's state answers taken from that state, or built from that state alone while the read model has no row for it yet; fields only the read models know may then be null or behind (each says so): read it again with \`consistentWith: cursor\` for them. Without \`${field}\` selected, whether the read models reached \`cursor\` within that wait.`,
        resolve: (s) => s.caughtUp(),
      }),
      [field]: t.field({
        type: entity as EntityRef<unknown>,
        resolve: (s) => s.entity() as never,
      }),
    }),
  });
}
