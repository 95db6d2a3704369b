import { catalogProjection } from '../catalog/projections.js';
import { customersProjection } from '../customers/projections.js';
import { ordersProjection } from '../orders/projections.js';
import type { Projection } from '../projections/types.js';
import { customerStatsProjection } from '../orders/statistics.js';

/** Every projection this server runs. Each feature contributes its own. */
export function allProjections(): Projection[] {
  return [catalogProjection, customersProjection, ordersProjection, customerStatsProjection];
}
