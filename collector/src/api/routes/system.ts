import { PROMETHEUS_CONTENT_TYPE } from '@connlog/metrics';
import { sendJson, sendText } from '../http.js';
import { openApiDocument } from '../openapi.js';
import type { Route } from '../router.js';
import type { RouteDeps } from '../types.js';

/** Health, metrics and the API description: open routes, no store access. */
export function systemRoutes(deps: RouteDeps): Route[] {
  return [
    {
      method: 'GET',
      path: '/healthz',
      name: 'healthz',
      access: 'open',
      handle: ({ res }) => {
        const status = deps.health();
        sendJson(res, status.ok ? 200 : 503, status);
        return Promise.resolve();
      },
    },
    {
      method: 'GET',
      path: '/metrics',
      name: 'metrics',
      access: deps.metricsAuth ? 'any' : 'open',
      handle: ({ res }) => {
        sendText(res, 200, PROMETHEUS_CONTENT_TYPE, deps.metrics.render());
        return Promise.resolve();
      },
    },
    {
      method: 'GET',
      path: '/api/v1/openapi.json',
      name: 'openapi',
      access: 'open',
      handle: ({ res }) => {
        sendJson(res, 200, openApiDocument());
        return Promise.resolve();
      },
    },
  ];
}
