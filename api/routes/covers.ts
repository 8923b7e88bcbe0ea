// The catalogue: GET /covers (modes, shapes, options and defaults, the emoji) and GET /emojis, kept
// for clients from before cover modes.
import { Router } from 'express';
import { coverCatalogue } from '../../shared/covers.js';

export function coversRouter(): Router {
  const router = Router();
  const catalogue = coverCatalogue();
  router.get('/covers', (_req, res) => {
    res.set('Cache-Control', 'public, max-age=300').json(catalogue);
  });
  router.get('/emojis', (_req, res) => {
    res.set('Cache-Control', 'public, max-age=300').json({ emojis: catalogue.emojis });
  });
  return router;
}
