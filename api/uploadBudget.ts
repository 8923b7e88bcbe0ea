// A bound on the upload bytes one API process holds in memory at once. Every upload is counted as
// its bytes arrive (not once it is whole), from the moment they are read until its response ends;
// past the bound the upload is refused with 503 + Retry-After instead of the process running out
// of memory. One budget per app (per process in production).
import type { Request, Response } from 'express';
import { HttpProblem } from './problem.js';

export class UploadBudget {
  private held = 0;
  private readonly meters = new WeakMap<Request, UploadMeter>();

  constructor(readonly limit: number) {}

  /** Upload bytes held right now (for the metrics gauge and tests). */
  get bytes(): number {
    return this.held;
  }

  /** Whether `n` more bytes would fit now (a cheap early answer from Content-Length). */
  fits(n: number): boolean {
    return this.held + n <= this.limit;
  }

  /** This request's account, created on first use; all it took is given back when `res` closes. */
  meter(req: Request, res: Response): UploadMeter {
    let meter = this.meters.get(req);
    if (!meter) {
      let taken = 0;
      let closed = false;
      meter = {
        add: (n) => {
          if (closed || this.held + n > this.limit) return false;
          this.held += n;
          taken += n;
          return true;
        },
      };
      this.meters.set(req, meter);
      res.once('close', () => {
        closed = true;
        this.held -= taken;
        taken = 0;
      });
    }
    return meter;
  }
}

export interface UploadMeter {
  /** Counts n more bytes; false (nothing counted) when they would pass the bound. */
  add(n: number): boolean;
}

export const uploadsBusy = (): HttpProblem =>
  new HttpProblem(
    503,
    'uploads-busy',
    'Service Unavailable',
    'the server is receiving as many uploads as it can hold in memory; retry in a moment',
    { headers: { 'Retry-After': '2' } },
  );
