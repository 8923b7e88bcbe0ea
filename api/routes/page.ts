// The web page: GET / (assets/web/index.html), its files under /web/ (plain HTML, CSS and ES modules,
// no build step), the zip library it loads from node_modules, and each emoji's art as
// GET /emojis/{name}.svg for the page's previews. Nothing here comes from the network.
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import express, { Router } from 'express';
import { findProjectRoot } from '../../shared/projectRoot.js';
import { isEmojiName } from '../../shared/emojis.js';
import { HttpProblem } from '../problem.js';

/** The page's files change with a deploy, not within one: a browser revalidates, and gets 304s. */
const REVALIDATE = 'no-cache';

export function pageRouter(): Router {
  const router = Router();
  const root = findProjectRoot();
  const webDir = join(root, 'assets', 'web');
  const emojiDir = join(root, 'assets', 'emoji');
  // fflate's browser ES module (zipSync for "download all"), resolved as Node resolves the package.
  const fflate = fileURLToPath(import.meta.resolve('fflate/browser'));

  router.get('/', (_req, res) => {
    res.set('Cache-Control', REVALIDATE).sendFile(join(webDir, 'index.html'));
  });
  router.get('/web/vendor/fflate.js', (_req, res) => {
    res.set('Cache-Control', REVALIDATE).type('text/javascript').sendFile(fflate);
  });
  router.use(
    '/web',
    express.static(webDir, {
      index: false,
      redirect: false,
      dotfiles: 'ignore',
      setHeaders: (res) => res.setHeader('Cache-Control', REVALIDATE),
    }),
  );
  router.get('/emojis/:name.svg', (req, res) => {
    const name = String(req.params.name);
    // Only catalogue names reach the file system: no path is built from anything else.
    if (!isEmojiName(name)) {
      throw new HttpProblem(
        404,
        'not-found',
        'Not Found',
        `no emoji named ${JSON.stringify(name.slice(0, 40))}`,
      );
    }
    res
      .set('Cache-Control', 'public, max-age=3600')
      .type('image/svg+xml')
      .sendFile(join(emojiDir, `${name}.svg`));
  });
  return router;
}
