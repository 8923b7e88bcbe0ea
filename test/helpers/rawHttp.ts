// HTTP/1.1 by hand over a TCP socket, for clients no library would be: ones that send one byte a
// second, stop half-way, or hold many uploads open at once.
import { connect, type Socket } from 'node:net';

export interface RawResponse {
  /** 0 when the connection closed before a status line arrived. */
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface RawClient {
  socket: Socket;
  write(data: string | Buffer): Promise<void>;
  /** The first response on the connection (or status 0 if it closes first). */
  response: Promise<RawResponse>;
  /** Resolves when the server has closed the connection. */
  closed: Promise<void>;
}

export async function rawClient(url: string): Promise<RawClient> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.on('error', () => {}); // resets are expected here; `closed` reports the end
  let buffer = Buffer.alloc(0);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const response = new Promise<RawResponse>((resolve) => {
    const parse = (final: boolean) => {
      const end = buffer.indexOf('\r\n\r\n');
      if (end < 0) return final ? resolve({ status: 0, headers: {}, body: buffer.toString() }) : undefined;
      const [statusLine, ...lines] = buffer.subarray(0, end).toString('latin1').split('\r\n');
      const headers = Object.fromEntries(
        lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]),
      );
      const length = Number(headers['content-length'] ?? NaN);
      const body = buffer.subarray(end + 4);
      if (!final && Number.isFinite(length) && body.length < length) return;
      if (!final && !Number.isFinite(length)) return; // read to the close
      resolve({ status: Number(statusLine!.split(' ')[1]), headers, body: body.toString() });
    };
    socket.on('data', (d: Buffer) => {
      buffer = Buffer.concat([buffer, d]);
      parse(false);
    });
    socket.once('close', () => parse(true));
  });
  const write = (data: string | Buffer) =>
    new Promise<void>((resolve) => {
      if (socket.destroyed) return resolve();
      socket.write(data, () => resolve());
    });
  return { socket, write, response, closed };
}
