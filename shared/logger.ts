// JSON logs (pino) for every process; one logger per process, children per module.
//
// Logs never carry request payloads. An ioredis ReplyError holds the failed command with its
// arguments (an upload's SET: the photo), and pino's standard error serializer copies every
// property of an error, so one refused 3.5 MB upload became a 12 MB log line of byte values. Here
// errors are logged as type, message, code and stack only, and every other logged value is capped:
// long strings cut, buffers replaced by their length, long arrays and deep objects shortened.
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

const MAX_STRING = 2000;
const MAX_STACK = 4000;
const MAX_ARRAY = 20;
const MAX_DEPTH = 5;

const cut = (s: string, max: number) => (s.length > max ? `${s.slice(0, max)}…[${s.length} chars]` : s);

export interface LoggedError {
  type: string;
  message: string;
  code?: string | number;
  stack?: string;
  cause?: LoggedError;
  /** The messages of a MULTI's errors (EXECABORT), without their commands. */
  previous?: string[];
}

/**
 * pino `err` serializer: what an error is, never what it carried (command arguments, request
 * bodies, previousErrors of a MULTI). Takes an Error or what pino-http's wrapper made of one.
 */
export function errSerializer(value: unknown, depth = 0): LoggedError | string {
  if (!value || typeof value !== 'object') return cut(String(value), MAX_STRING);
  const e = value as {
    type?: unknown;
    name?: unknown;
    message?: unknown;
    code?: unknown;
    stack?: unknown;
    cause?: unknown;
    previousErrors?: unknown;
  };
  const type = typeof e.type === 'string' ? e.type : typeof e.name === 'string' ? e.name : 'Error';
  const out: LoggedError = { type, message: cut(String(e.message ?? ''), MAX_STRING) };
  if (typeof e.code === 'string' || typeof e.code === 'number') out.code = e.code;
  if (typeof e.stack === 'string') out.stack = cut(e.stack, MAX_STACK);
  if (Array.isArray(e.previousErrors)) {
    out.previous = e.previousErrors
      .slice(0, 5)
      .map((p) => cut(String((p as { message?: unknown } | null)?.message ?? p), MAX_STRING));
  }
  if (e.cause && depth < 2) {
    const cause = errSerializer(e.cause, depth + 1);
    if (typeof cause === 'object') out.cause = cause;
  }
  return out;
}

/** Any logged value, capped: errors serialized, bytes as their length, strings and arrays cut. */
export function capValue(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return cut(value, MAX_STRING);
  if (!value || typeof value !== 'object') return value;
  if (value instanceof Error) return errSerializer(value);
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return `[${value.byteLength} bytes]`;
  const proto = Object.getPrototypeOf(value) as unknown;
  // Class instances (requests, responses) are left to their own serializers.
  if (!Array.isArray(value) && proto !== Object.prototype && proto !== null) return value;
  if (depth >= MAX_DEPTH) return Array.isArray(value) ? '[Array]' : '[Object]';
  if (Array.isArray(value)) {
    const head = value.slice(0, MAX_ARRAY).map((v) => capValue(v, depth + 1));
    return value.length > MAX_ARRAY ? [...head, `[+${value.length - MAX_ARRAY} more]`] : head;
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = capValue(v, depth + 1);
  return out;
}

/** The options every logger (and pino-http's child of it) shares. */
export const logSerializers = { err: errSerializer };

export function createLogger(
  name: string,
  level = process.env.LOG_LEVEL ?? 'info',
  destination?: DestinationStream,
): Logger {
  const options = {
    name,
    level,
    base: { pid: process.pid, name },
    serializers: logSerializers,
    formatters: {
      // `err` is left to its serializer (pino-http installs its own wrapper around ours).
      log: (obj: Record<string, unknown>) => {
        const out: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(obj)) out[k] = k === 'err' ? v : capValue(v);
        return out;
      },
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
