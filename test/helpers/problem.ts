// Asserting RFC 9457 answers (application/problem+json) from supertest responses.
import assert from 'node:assert/strict';
import type { Response } from 'supertest';

/** The status, the content type and the members every problem has; returns the body. */
export function assertProblem(res: Response, status: number, slug?: string): Record<string, unknown> {
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${res.text}`);
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
  const body = JSON.parse(res.text) as Record<string, unknown>;
  assert.equal(body.status, status);
  assert.match(String(body.type), /^\/problems\/[a-z0-9-]+$/);
  if (slug) assert.equal(body.type, `/problems/${slug}`);
  assert.equal(typeof body.title, 'string');
  return body;
}
