// GET /docs: the OpenAPI description rendered by Swagger UI, every file served from here
// (swagger-ui-dist in node_modules, our page and initializer in assets/docs): no CDN, and nothing
// inline, so the API's Content-Security-Policy holds for this page too.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Router } from 'express';
import { findProjectRoot } from '../../shared/projectRoot.js';

/** The files the page loads, and where they are. */
function docFiles(): Record<string, string> {
  const swagger = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
  const own = join(findProjectRoot(), 'assets', 'docs');
  return {
    'swagger-ui.css': join(swagger, 'swagger-ui.css'),
    'swagger-ui-bundle.js': join(swagger, 'swagger-ui-bundle.js'),
    'favicon-32x32.png': join(swagger, 'favicon-32x32.png'),
    'docs.css': join(own, 'docs.css'),
    'init.js': join(own, 'init.js'),
  };
}

export function docsRouter(): Router {
  const router = Router();
  const files = docFiles();
  const page = join(findProjectRoot(), 'assets', 'docs', 'index.html');
  router.get(['/docs', '/docs/'], (_req, res) => {
    res.set('Cache-Control', 'no-cache').sendFile(page);
  });
  router.get('/docs/:file', (req, res, next) => {
    const file = files[String(req.params.file)];
    if (!file) return next(); // the 404 problem
    res.set('Cache-Control', 'public, max-age=3600').sendFile(file);
  });
  return router;
}
