// How requests reach the API server. Over TLS: one multiplexed HTTP/2 connection, as client-go
// does, so a burst of creates costs no TLS handshakes and watches share it; a connection that
// stops answering pings is dropped and the next request dials again. Plain http: HTTP/1.1 with
// keep-alive.
//
// The transport applies the credentials: before each request it asks the KubeAccess for its
// headers and client certificate. A new certificate (renewed file, exec plugin) is dialled with
// on a new connection while the old one finishes its streams. A 401 where the credentials can be
// refreshed (see KubeAccess.refused) is retried once with fresh ones, as client-go does.
import http from 'node:http';
import http2 from 'node:http2';
import type { Readable } from 'node:stream';
import type { ClientCert, KubeAccess } from './config.js';

export interface Response {
  code: number;
  body: Readable;
}

export interface Transport {
  /** sends the request; resolves with the status and the body stream once headers arrive */
  open(
    method: string,
    url: URL,
    headers: Record<string, string>,
    payload: Buffer | undefined,
    opts: { signal?: AbortSignal; timeoutMs?: number },
  ): Promise<Response>;
  close(): void;
}

export class TransportError extends Error {
  override name = 'TransportError';
}

const PING_EVERY_MS = 15_000;
const PING_TIMEOUT_MS = 10_000;

export function createTransport(access: KubeAccess): Transport {
  const raw = access.server.protocol === 'https:' ? http2Transport(access) : http1Transport();
  return withCredentials(access, raw);
}

/** What one request is sent with; `cert` picks (or dials) the connection. */
type Send = (
  method: string,
  url: URL,
  headers: Record<string, string>,
  payload: Buffer | undefined,
  opts: { signal?: AbortSignal; timeoutMs?: number },
  cert: ClientCert | undefined,
) => Promise<Response>;

function withCredentials(access: KubeAccess, raw: { send: Send; close(): void }): Transport {
  const attempt = async (
    ...[method, url, headers, payload, opts]: Parameters<Transport['open']>
  ): Promise<Response> => {
    const cert = await access.clientCert?.();
    const auth = await access.headers();
    return raw.send(method, url, { ...headers, ...auth }, payload, opts, cert);
  };
  return {
    async open(...args) {
      const res = await attempt(...args);
      if (res.code !== 401 || !access.refused || args[4].signal?.aborted) return res;
      res.body.resume();
      access.refused();
      return attempt(...args);
    },
    close: () => raw.close(),
  };
}

const sameCert = (a: ClientCert | undefined, b: ClientCert | undefined): boolean =>
  a === b || (a !== undefined && b !== undefined && a.cert.equals(b.cert) && a.key.equals(b.key));

// A factory: sessions, their certificates and request sending share one state.
function http2Transport(access: KubeAccess): { send: Send; close(): void } {
  let session: http2.ClientHttp2Session | undefined;
  let sessionCert: ClientCert | undefined;
  let pinger: NodeJS.Timeout | undefined;

  function drop(s: http2.ClientHttp2Session): void {
    if (session === s) {
      session = undefined;
      clearInterval(pinger);
    }
    if (!s.destroyed) s.destroy();
  }

  function connect(cert: ClientCert | undefined): http2.ClientHttp2Session {
    if (session && !session.closed && !session.destroyed) {
      if (sameCert(cert, sessionCert)) return session;
      // new credentials: no new streams on the old connection, which closes once they end
      const old = session;
      session = undefined;
      clearInterval(pinger);
      old.close();
    }
    const s = http2.connect(access.server.origin, {
      ...(access.ca ? { ca: access.ca } : {}),
      ...(cert ? { cert: cert.cert, key: cert.key } : {}),
      ...(access.servername ? { servername: access.servername } : {}),
      rejectUnauthorized: access.rejectUnauthorized,
    });
    sessionCert = cert;
    s.on('error', () => drop(s));
    s.on('close', () => drop(s));
    // the server wants no new streams here: dial anew for the next, let these finish
    s.on('goaway', () => {
      if (session === s) session = undefined;
    });
    session = s;
    clearInterval(pinger);
    // a server that vanished without closing the connection (a paused process, a dead network)
    // is found by pings, not by waiting for each request's timeout
    pinger = setInterval(() => {
      if (s.destroyed) return;
      const t = setTimeout(() => drop(s), PING_TIMEOUT_MS);
      t.unref();
      try {
        const sent = s.ping((err) => {
          clearTimeout(t);
          if (err) drop(s);
        });
        if (!sent) clearTimeout(t);
      } catch {
        clearTimeout(t);
        drop(s);
      }
    }, PING_EVERY_MS);
    pinger.unref();
    return s;
  }

  return {
    send(method, url, headers, payload, opts, cert) {
      return new Promise<Response>((resolve, reject) => {
        let s: http2.ClientHttp2Session;
        try {
          s = connect(cert);
        } catch (err) {
          reject(new TransportError((err as Error).message));
          return;
        }
        const h: http2.OutgoingHttpHeaders = {
          ':method': method,
          ':path': `${url.pathname}${url.search}`,
        };
        for (const [k, v] of Object.entries(headers)) h[k.toLowerCase()] = v;
        if (payload) h['content-length'] = payload.length;
        let stream: http2.ClientHttp2Stream;
        try {
          stream = s.request(h, {
            endStream: payload === undefined,
            ...(opts.signal ? { signal: opts.signal } : {}),
          });
        } catch (err) {
          drop(s);
          reject(new TransportError((err as Error).message));
          return;
        }
        stream.once('response', (rh) =>
          resolve({ code: Number(rh[':status'] ?? 0), body: stream }),
        );
        stream.once('error', (err: Error) => reject(new TransportError(err.message)));
        if (opts.timeoutMs) {
          stream.setTimeout(opts.timeoutMs, () => {
            stream.close(http2.constants.NGHTTP2_CANCEL);
            reject(new TransportError(`no answer within ${opts.timeoutMs} ms`));
          });
        }
        if (payload) stream.end(payload);
      });
    },
    close() {
      if (session) drop(session);
    },
  };
}

function http1Transport(): { send: Send; close(): void } {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  return {
    // plain http: no client certificates
    send(method, url, headers, payload, opts) {
      return new Promise<Response>((resolve, reject) => {
        const h: Record<string, string> = { ...headers };
        if (payload) h['Content-Length'] = String(payload.length);
        const req = http.request(
          url,
          {
            method,
            headers: h,
            agent,
            ...(opts.timeoutMs ? { timeout: opts.timeoutMs } : {}),
            ...(opts.signal ? { signal: opts.signal } : {}),
          },
          (res) => resolve({ code: res.statusCode ?? 0, body: res }),
        );
        req.on('timeout', () =>
          req.destroy(new TransportError(`no answer within ${opts.timeoutMs} ms`)),
        );
        req.on('error', (err) => reject(new TransportError(err.message)));
        req.end(payload);
      });
    },
    close() {
      agent.destroy();
    },
  };
}
