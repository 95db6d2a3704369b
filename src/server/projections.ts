import { catalogProjection } from '../catalog/projections.js';
import { customerStatsProjection, customersProjection } from '../customers/projections.js';
import { ordersProjection } from '../orders/projections.js';
import type { Projection } from '../projections/types.js';

/** Every projection this server runs. Each feature contributes its own. */
export function allProjections(): Projection[] {
  return [catalogProjection, customersProjection, ordersProjection, customerStatsProjection];
}
