// A thin ClickHouse HTTP interface over chdb (the current ClickHouse engine as libchdb.so), so that the real
// ClickHouse.Driver runs end to end in tests on machines without a ClickHouse server or Docker.
//
//   node chdb-http.js DATA_DIR PORT      prints "listening PORT control PORT" once it accepts connections
//
// Implements what the driver uses: GET /ping, POST/GET /?query=... with the body appended (inline data for
// INSERT ... FORMAT <text format>), `database`, `default_format`, `param_<name>` bindings, gzip request bodies,
// X-ClickHouse-* response headers and ClickHouse-shaped errors. Queries run one at a time on one session.
//
// Test control (not ClickHouse): POST /__outage?down=1 closes the listener and every open connection, so the
// store is really unreachable (connection refused) until POST is sent to the control port given on stdout.
'use strict';
const http = require('http');
const zlib = require('zlib');
const path = require('path');
const { Session } = require('chdb');

const dataDir = path.resolve(process.argv[2] || './chdb-data');
const port = Number(process.argv[3] || 0);
const session = new Session(dataDir);
// chdb defaults to async inserts; a ClickHouse server does not, and deduplication relies on sync inserts.
session.query('SET async_insert = 0', 'TabSeparated');
const RESERVED = new Set(['query', 'database', 'default_format', 'query_id', 'session_id', 'session_timeout', 'session_check',
  'compress', 'decompress', 'user', 'password', 'quota_key', 'buffer_size', 'wait_end_of_query', 'enable_http_compression',
  'http_zlib_compression_level', 'role']);
let currentDb = 'default';
let chain = Promise.resolve();
let queryCounter = 0;

// One query at a time: a chdb session is not meant for concurrent queries.
function serialized(work) {
  const run = chain.then(work, work);
  chain = run.catch(() => {});
  return run;
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      const encoding = (req.headers['content-encoding'] || '').toLowerCase();
      try {
        if (encoding === 'gzip') body = zlib.gunzipSync(body);
        else if (encoding === 'deflate') body = zlib.inflateSync(body);
        else if (encoding === 'br') body = zlib.brotliDecompressSync(body);
      } catch (e) {
        reject(e);
        return;
      }
      resolve(body);
    });
    req.on('error', reject);
  });
}

function errorCode(message) {
  const m = /Code: (\d+)/.exec(message);
  return m ? m[1] : '1000';
}

async function handle(req, res) {
  const url = new URL(req.url, 'http://localhost');
  if (url.pathname === '/ping') {
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=UTF-8' });
    res.end('Ok.\n');
    return;
  }
  const body = await readBody(req);
  let sql = url.searchParams.get('query');
  let data = null;
  if (sql === null) {
    sql = body.toString('utf8');
  } else if (body.length > 0) {
    data = body;
  }
  const params = {};
  const settings = [];
  for (const [key, value] of url.searchParams) {
    if (key.startsWith('param_')) params[key.slice(6)] = value;
    else if (!RESERVED.has(key) && /^[a-z_0-9]+$/.test(key)) settings.push([key, value]);
  }
  const database = url.searchParams.get('database') || 'default';
  const hasFormat = /\bFORMAT\s+\w+\s*;?\s*$/i.test(sql.replace(/--[^\n]*$/gm, '').trim());
  const format = url.searchParams.get('default_format') || 'TabSeparated';
  if (data !== null) {
    if (!/\bFORMAT\s+(JSONEachRow|JSONCompactEachRow|TabSeparated\w*|TSV\w*|CSV\w*|Values)\s*$/i.test(sql.trim())) {
      throw new Error('Code: 73. DB::Exception: this test front accepts inline data only in text formats (JSONEachRow, TSV, CSV, Values). (UNKNOWN_FORMAT)');
    }
    sql = sql.trim() + '\n' + data.toString('utf8');
  }
  const queryId = url.searchParams.get('query_id') || `chdb-${process.pid}-${++queryCounter}`;
  const result = await serialized(async () => {
    if (database !== currentDb) {
      try {
        await session.queryAsync(`USE \`${database.replace(/`/g, '')}\``, { format: 'TabSeparated' });
        currentDb = database;
      } catch {
        // The database may not exist yet (CREATE DATABASE runs with it named): stay where we are.
      }
    }
    // Settings sent as URL parameters hold for this query only, as on a server.
    for (const [key, value] of settings) {
      await session.queryAsync(`SET ${key} = '${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`, { format: 'TabSeparated' });
    }
    try {
      const opts = { format: hasFormat ? 'TabSeparated' : format };
      return await (Object.keys(params).length > 0
        ? session.queryBindAsync(sql, params, opts)
        : session.queryAsync(sql, opts));
    } finally {
      for (const [key] of settings) {
        await session.queryAsync(`SET ${key} = DEFAULT`, { format: 'TabSeparated' }).catch(() => {});
      }
    }
  });
  const bytes = Buffer.from(result.bytes());
  const written = data === null ? 0 : data.toString('utf8').split('\n').filter((l) => l.trim().length > 0).length;
  res.writeHead(200, {
    'Content-Type': 'application/octet-stream',
    'X-ClickHouse-Query-Id': queryId,
    'X-ClickHouse-Format': hasFormat ? '' : format,
    'X-ClickHouse-Timezone': 'UTC',
    'X-ClickHouse-Server-Display-Name': 'chdb',
    'X-ClickHouse-Summary': JSON.stringify({
      read_rows: String(result.rowsRead || 0), read_bytes: String(result.bytesRead || 0),
      written_rows: String(written), written_bytes: String(data ? data.length : 0),
      total_rows_to_read: '0', result_rows: '0', result_bytes: String(bytes.length),
      elapsed_ns: String(Math.round((result.elapsed || 0) * 1e9)),
    }),
  });
  res.end(bytes);
}

const sockets = new Set();
const server = http.createServer((req, res) => {
  handle(req, res).catch((e) => {
    const message = String(e && e.message ? e.message : e);
    if (!res.headersSent) {
      res.writeHead(message.includes('UNKNOWN_DATABASE') ? 404 : 500, {
        'Content-Type': 'text/plain; charset=UTF-8',
        'X-ClickHouse-Exception-Code': errorCode(message),
      });
    }
    res.end(message.startsWith('Code:') ? message + '\n' : `Code: ${errorCode(message)}. DB::Exception: ${message}\n`);
  });
});
server.keepAliveTimeout = 5000;
server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });

// The control listener (separate port) takes the store down and brings it back.
const control = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://localhost');
  if (url.pathname !== '/__outage') { res.writeHead(404); res.end(); return; }
  if (url.searchParams.get('down') === '1') {
    server.close();
    for (const s of sockets) s.destroy();
    res.writeHead(200); res.end('down\n');
  } else {
    server.listen(server.lastPort, '127.0.0.1', () => { res.writeHead(200); res.end('up\n'); });
  }
});

server.listen(port, '127.0.0.1', () => {
  server.lastPort = server.address().port;
  control.listen(0, '127.0.0.1', () => {
    process.stdout.write(`listening ${server.lastPort} control ${control.address().port}\n`);
  });
});

function shutdown() {
  server.close();
  control.close();
  chain.finally(() => { try { session.cleanup ? session.cleanup() : session.close(); } catch { /* exiting */ } process.exit(0); });
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
// A parent that owns this process (the test harness) sets CHDB_HTTP_STDIN_LIFETIME=1 and closes stdin to stop it.
if (process.env.CHDB_HTTP_STDIN_LIFETIME === '1') {
  process.stdin.on('end', shutdown);
  process.stdin.resume();
}
