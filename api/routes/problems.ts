// GET /problems and GET /problems/<slug>: what each problem `type` means, as a short page for
// people (HTML) or JSON when the Accept header prefers it. The `type` of every problem points here.
import { Router, type Request, type Response } from 'express';
import { HttpProblem } from '../problem.js';
import {
  isProblemSlug,
  PROBLEM_SLUGS,
  PROBLEM_TYPES,
  problemTypeUri,
  type ProblemSlug,
} from '../problemTypes.js';

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** `code` spans for `backticked` words, the rest escaped. */
const prose = (s: string): string =>
  escapeHtml(s).replace(/`([^`]+)`/g, (_m, code: string) => `<code>${code}</code>`);

export function problemJson(slug: ProblemSlug) {
  const t = PROBLEM_TYPES[slug];
  return { slug, type: problemTypeUri(slug), title: t.title, status: t.status, explanation: t.explanation };
}

// No script, no style: the CSP allows neither inline, and a page this short needs none.
function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>${escapeHtml(title)} · Turdify</title>
</head>
<body>
${body}
<p><a href="/problems">All problem types</a> · <a href="/docs">API reference</a></p>
</body>
</html>
`;
}

function problemPage(slug: ProblemSlug): string {
  const t = PROBLEM_TYPES[slug];
  return page(
    `${slug}: ${t.title}`,
    `<h1><code>${slug}</code> — ${escapeHtml(t.title)}</h1>
<p>HTTP status: ${t.status.join(', ')}. Sent as <code>application/problem+json</code> (RFC 9457) with <code>"type": "${problemTypeUri(slug)}"</code>.</p>
<p>${prose(t.explanation)}</p>`,
  );
}

function indexPage(): string {
  const rows = PROBLEM_SLUGS.map((slug) => {
    const t = PROBLEM_TYPES[slug];
    return `<tr><td>${t.status.join(', ')}</td><td><a href="${problemTypeUri(slug)}"><code>${slug}</code></a></td><td>${prose(t.explanation)}</td></tr>`;
  }).join('\n');
  return page(
    'Problem types',
    `<h1>Problem types</h1>
<p>Every error of this API is <code>application/problem+json</code> (RFC 9457); its <code>type</code> is one of these.</p>
<table>
<thead><tr><th>Status</th><th>Type</th><th>Meaning</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>`,
  );
}

/** HTML unless the client prefers JSON (a browser asks for text/html first). */
function answer(req: Request, res: Response, html: () => string, json: () => unknown): void {
  res.set('Cache-Control', 'public, max-age=3600').vary('Accept');
  if (req.accepts(['text/html', 'application/json']) === 'application/json') res.json(json());
  else res.type('html').send(html());
}

export function problemsRouter(): Router {
  const router = Router();
  router.get(['/problems', '/problems/'], (req, res) =>
    answer(req, res, indexPage, () => ({ problems: PROBLEM_SLUGS.map(problemJson) })),
  );
  router.get('/problems/:slug', (req, res) => {
    const slug = String(req.params.slug);
    if (!isProblemSlug(slug)) {
      throw new HttpProblem(404, 'not-found', 'Not Found', `no problem type "${slug.slice(0, 60)}"`);
    }
    answer(
      req,
      res,
      () => problemPage(slug),
      () => problemJson(slug),
    );
  });
  return router;
}
