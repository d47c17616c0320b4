// A small static file server for the output tree, for a farm on one machine
// where running nginx would be overkill. It serves what deploy/nginx does:
// index.html for directories, the PEP 691 JSON simple pages to clients that
// ask for them, the gzipped build logs, the 404 page, and symlinked aliases
// (but nothing outside the tree).
import { createReadStream, type Stats } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';
import { createGunzip } from 'node:zlib';
import { listenHttp, type HttpListener } from '../../shared/http-listener.ts';

export const PEP691_JSON = 'application/vnd.pypi.simple.v1+json';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.json': 'application/json',
  '.css': 'text/css; charset=utf-8',
  '.js': 'application/javascript; charset=utf-8',
  '.mjs': 'application/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.xml': 'text/xml; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.whl': 'application/zip',
  '.metadata': 'text/plain; charset=utf-8',
  '.gz': 'application/gzip',
};

/** The Content-Type of a file in the output tree, by where it is and its extension. */
export function contentType(urlPath: string): string {
  if (urlPath.startsWith('/simple/') && urlPath.endsWith('/index.json')) return PEP691_JSON;
  return CONTENT_TYPES[extname(urlPath).toLowerCase()] ?? 'application/octet-stream';
}

interface MediaRange {
  type: string;
  q: number;
}

function parseAccept(header: string): MediaRange[] {
  return header
    .split(',')
    .map((part) => {
      const [type = '', ...params] = part.split(';').map((s) => s.trim());
      let q = 1;
      for (const param of params) {
        if (!/^q\s*=/i.test(param)) continue;
        // a malformed weight counts as a refusal rather than a full yes
        const match = /^q\s*=\s*([01](\.\d{0,3})?)$/i.exec(param);
        q = match ? Math.min(1, Number(match[1])) : 0;
      }
      return { type: type.toLowerCase(), q: Number.isFinite(q) ? q : 0 };
    })
    .filter((range) => range.type !== '');
}

/**
 * PEP 691 negotiation: the JSON simple page when the client accepts it at
 * least as much as HTML (pip asks for JSON first); HTML otherwise, and when
 * the header is missing.
 */
export function prefersSimpleJson(accept: string | undefined): boolean {
  if (accept === undefined || accept.trim() === '') return false;
  let json = 0;
  let html = 0;
  for (const { type, q } of parseAccept(accept)) {
    if (type === PEP691_JSON || type === 'application/vnd.pypi.simple.latest+json') json = Math.max(json, q);
    else if (['text/html', 'application/vnd.pypi.simple.v1+html', 'application/vnd.pypi.simple.latest+html', 'text/*', '*/*'].includes(type)) {
      html = Math.max(html, q);
    }
  }
  return json > 0 && json >= html;
}

/**
 * The file a URL path names inside `root` (a directory gets its index), or
 * null when the path tries to leave the tree or is malformed.
 */
export function resolveUrlPath(root: string, rawPath: string): string | null {
  let path: string;
  try {
    path = decodeURIComponent(rawPath);
  } catch {
    return null;
  }
  if (!path.startsWith('/') || path.includes('\0') || path.split('/').some((part) => part === '..')) return null;
  const full = resolve(root, `.${path}`);
  return full === root || full.startsWith(root + sep) ? full : null;
}

export interface StaticServerOptions {
  root: string;
  host?: string;
  port?: number;
}

type Found = { path: string; info: Stats; urlPath: string };

export class StaticServer {
  private listener: HttpListener | undefined;
  private realRoot = '';
  url = '';

  constructor(private readonly options: StaticServerOptions) {}

  async start(): Promise<string> {
    this.realRoot = await realpath(resolve(this.options.root));
    this.listener = await listenHttp((req, res) => this.handle(req, res), this.options);
    this.url = this.listener.url;
    return this.url;
  }

  async stop(): Promise<void> {
    await this.listener?.stop();
    this.listener = undefined;
  }

  /** The file if it exists inside the tree (symlinks followed, but not out of it). */
  private async lookup(path: string): Promise<{ path: string; info: Stats } | null> {
    try {
      const real = await realpath(path);
      if (real !== this.realRoot && !real.startsWith(this.realRoot + sep)) return null;
      return { path: real, info: await stat(real) };
    } catch {
      return null;
    }
  }

  private async find(urlPath: string, accept: string | undefined): Promise<Found | 'redirect' | null> {
    const full = resolveUrlPath(this.realRoot, urlPath);
    if (full === null) return null;
    const found = await this.lookup(full);
    if (found === null) return null;
    if (found.info.isFile()) return { ...found, urlPath };
    if (!found.info.isDirectory()) return null;
    if (!urlPath.endsWith('/')) return 'redirect';
    const simple = urlPath.startsWith('/simple/');
    const names = simple && prefersSimpleJson(accept) ? ['index.json', 'index.html'] : ['index.html', 'index.json'];
    for (const name of names) {
      const index = await this.lookup(join(found.path, name));
      if (index?.info.isFile()) return { ...index, urlPath: urlPath + name };
    }
    return null;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return this.plain(res, 405, 'method not allowed\n');
    }
    const url = new URL(req.url ?? '/', 'http://farm');
    const urlPath = url.pathname;
    res.setHeader('Access-Control-Allow-Origin', '*');
    if (urlPath.startsWith('/simple/')) res.setHeader('Vary', 'Accept');
    if (urlPath === '/project/' || urlPath === '/project') return this.redirect(res, '/packages.html');

    // Build logs are stored gzipped; /logs/…/N.txt is the same file inflated.
    if (urlPath.startsWith('/logs/') && urlPath.endsWith('.txt')) {
      const gz = await this.find(`${urlPath}.gz`, undefined);
      if (gz !== null && gz !== 'redirect') return this.sendLog(req, res, gz);
    }
    const found = await this.find(urlPath, req.headers.accept);
    if (found === 'redirect') return this.redirect(res, `${urlPath}/${url.search}`);
    if (found === null) return this.notFound(req, res);
    if (found.urlPath.startsWith('/logs/') && found.urlPath.endsWith('.txt.gz')) return this.sendLog(req, res, found);
    return this.sendFile(req, res, 200, found, contentType(found.urlPath));
  }

  private sendFile(req: IncomingMessage, res: ServerResponse, status: number, found: Found, type: string): void {
    res.writeHead(status, {
      'Content-Type': type,
      'Content-Length': String(found.info.size),
      'Last-Modified': found.info.mtime.toUTCString(),
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    createReadStream(found.path).on('error', () => res.destroy()).pipe(res);
  }

  /** A gzipped log as text: passed through to clients that take gzip, inflated for the rest. */
  private sendLog(req: IncomingMessage, res: ServerResponse, found: Found): void {
    const acceptsGzip = /\bgzip\b/i.test(req.headers['accept-encoding'] ?? '');
    if (acceptsGzip) {
      res.setHeader('Content-Encoding', 'gzip');
      res.setHeader('Vary', 'Accept-Encoding');
      return this.sendFile(req, res, 200, found, CONTENT_TYPES['.txt'] as string);
    }
    res.writeHead(200, { 'Content-Type': CONTENT_TYPES['.txt'] as string, Vary: 'Accept-Encoding' });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    createReadStream(found.path)
      .on('error', () => res.destroy())
      .pipe(createGunzip())
      .on('error', () => res.destroy())
      .pipe(res);
  }

  private async notFound(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const page = await this.find('/404.html', undefined);
    if (page !== null && page !== 'redirect') return this.sendFile(req, res, 404, page, CONTENT_TYPES['.html'] as string);
    this.plain(res, 404, 'not found\n');
  }

  private redirect(res: ServerResponse, location: string): void {
    res.writeHead(301, { Location: location, 'Content-Type': 'text/plain; charset=utf-8' });
    res.end(`see ${location}\n`);
  }

  private plain(res: ServerResponse, status: number, body: string): void {
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': String(Buffer.byteLength(body)) });
    res.end(body);
  }
}
