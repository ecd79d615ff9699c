import type { Route } from '../router.js';
import type { RouteDeps } from '../types.js';
import { adminActionRoutes } from './admin_actions.js';
import { exportRoute } from './export.js';
import { networkLogRoutes } from './network_logs.js';
import { retentionRoutes } from './retention.js';
import { sqlRoutes } from './sql.js';
import { systemRoutes } from './system.js';

/** The route table, in match order: `…/export` and `…/live` precede `…/{sessionId}`. */
export function createRoutes(deps: RouteDeps): Route[] {
  const logs = networkLogRoutes(deps);
  return [
    ...systemRoutes(deps),
    logs.list,
    exportRoute(deps),
    logs.live,
    logs.get,
    ...retentionRoutes(deps),
    ...adminActionRoutes(deps),
    ...sqlRoutes(deps),
  ];
}
