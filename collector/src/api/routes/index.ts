import type { Route } from '../router.js';
import type { RouteDeps } from '../types.js';
import { exportRoute } from './export.js';
import { networkLogRoutes } from './network_logs.js';
import { sqlRoutes } from './sql.js';
import { systemRoutes } from './system.js';

/** The route table, in match order: `…/export` precedes `…/{sessionId}`. */
export function createRoutes(deps: RouteDeps): Route[] {
  const logs = networkLogRoutes(deps);
  return [...systemRoutes(deps), logs.list, exportRoute(deps), logs.get, ...sqlRoutes(deps)];
}
