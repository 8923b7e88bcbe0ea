// GET /openapi.json: the OpenAPI 3.1 description, built once per app from its configuration.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Router } from 'express';
import { findProjectRoot } from '../../shared/projectRoot.js';
import type { ApiDeps } from '../deps.js';
import { buildOpenApi } from '../openapi/document.js';

const packageVersion = (): string =>
  (JSON.parse(readFileSync(join(findProjectRoot(), 'package.json'), 'utf8')) as { version: string }).version;

export function openapiRouter(deps: Pick<ApiDeps, 'config'>): Router {
  const router = Router();
  const body = JSON.stringify(buildOpenApi(deps.config, packageVersion()), null, 2);
  router.get('/openapi.json', (_req, res) => {
    res.set('Cache-Control', 'public, max-age=300').type('application/json').send(body);
  });
  return router;
}
