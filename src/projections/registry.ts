import type { Projection } from './types.js';

/** Every projection this server runs. Each feature contributes its own. */
export function allProjections(): Projection[] {
  return [];
}
