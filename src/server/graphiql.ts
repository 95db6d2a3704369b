import {
  css,
  editorWorkerService,
  favicon,
  graphqlWorker,
  js,
  jsonWorker,
} from '@graphql-yoga/render-graphiql/graphiql';
import type { GraphiQLOptions } from 'graphql-yoga';
import type { Config } from '../config/config.js';
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import zlib from 'node:zlib';

/*
 * The ids and command ids below are fixed on purpose: run an operation twice and the
 * second run is an idempotent replay (nothing written twice; the first run's cursor and
 * version, the entity as it is now), and the later
 * operations find the customer, product and order without copying ids around. The README's
 * tour uses the same values.
 */

/**
 * What GraphiQL opens with: the README's guided tour, the same operations in the same order
 * (test/server/readme.test.ts compares them), with short comments between them.
 */
export const EXAMPLE_QUERY = `# Welcome to Strata: orders on event sourcing.
#
# The README's guided tour, step by step. Put the
# cursor in an operation, press Ctrl-Enter (or ▶
# and pick one). The Headers tab below holds your
# token (in development, the admin token).
# Variables have defaults, so each step runs as it
# is; for other ids, set them in the Variables tab,
# e.g. { "orderId": "<an id from Orders>" }.

# 1. A customer and a product. commandId is the
#    idempotency key: a new uuid is a new command;
#    the same one again writes nothing and answers
#    with the first run's cursor and version.
mutation Register(
  $customerId: ID = "7a1e0000-0000-4000-8000-00000000c001"
  $productId: ID = "7a1e0000-0000-4000-8000-00000000b001"
) {
  registerCustomer(input: {
    commandId: "7a1e0000-0000-4000-8000-0000000000a1"
    id: $customerId
    name: "Ann Example"
    email: "ann@example.org"
    phone: "+49 30 1234567"
  }) {
    __typename
    ... on RegisterCustomerSuccess { customer { id name } }
    ... on Error { code message }
  }
  registerProduct(input: {
    commandId: "7a1e0000-0000-4000-8000-0000000000a2"
    id: $productId
    name: "Stoneware mug"
    imageUrl: "https://example.org/mug.png"
    price: { amount: 1250, currency: "EUR" }
    initialStock: 20
  }) {
    __typename
    ... on RegisterProductSuccess {
      product { id name availableStock }
    }
    ... on Error { code message }
  }
}

# 2. An order of two mugs (prices are captured from
#    the catalogue now; money is in cents), express,
#    billed to an office. More than is in stock is
#    refused with InsufficientStock.
mutation CreateOrder(
  $orderId: ID = "7a1e0000-0000-4000-8000-00000000d001"
  $customerId: ID! = "7a1e0000-0000-4000-8000-00000000c001"
  $productId: ID! = "7a1e0000-0000-4000-8000-00000000b001"
) {
  createOrder(input: {
    commandId: "7a1e0000-0000-4000-8000-0000000000a3"
    id: $orderId
    customerId: $customerId
    items: [{ productId: $productId, quantity: 2 }]
    shippingAddress: {
      line1: "Hauptstraße 1", city: "Berlin"
      postalCode: "10115", country: "DE"
    }
    billingAddress: {
      line1: "Friedrichstraße 100"
      line2: "Accounts payable", city: "Berlin"
      postalCode: "10117", country: "DE"
    }
    shippingMethod: EXPRESS
  }) {
    __typename
    ... on CreateOrderSuccess {
      order {
        id orderNumber status shippingMethod
        billingAddress { line1 line2 }
        items { productName productImageUrl quantity }
        total { amount currency }
      }
    }
    ... on InsufficientStock {
      message
      items { productName requested available }
    }
    ... on Error { code message }
  }
}

# 3. Watch the order live: open a new tab (+), paste
#    this, run it and leave it running (over
#    WebSocket, with the token from Headers). The
#    result pane lists what it sends, oldest first:
#    the order's events so far (the replay), then
#    each new one as it happens.
subscription Watch(
  $orderId: ID! = "7a1e0000-0000-4000-8000-00000000d001"
) {
  orderTimeline(orderId: $orderId) {
    version type status description at
  }
}

# 4. Pay it (the exact total). In the Watch tab the
#    payment arrives with its delivery estimate,
#    then the fulfillment process reserves stock and
#    makes the order ready to ship.
mutation Pay(
  $orderId: ID! = "7a1e0000-0000-4000-8000-00000000d001"
) {
  payOrder(input: {
    commandId: "7a1e0000-0000-4000-8000-0000000000a4"
    orderId: $orderId
    paymentId: "pay-0001"
    amount: { amount: 2500, currency: "EUR" }
    method: PAYPAL
    transactionId: "PAYID-4F2A9C1E"
  }) {
    __typename
    ... on PayOrderSuccess {
      order {
        status estimatedDelivery
        payment { status method transactionId paidAt }
      }
    }
    ... on Error { code message }
  }
}

# 5. What did the order look like before it was
#    paid? Rebuilt from the event store; below it,
#    the events themselves.
query History(
  $orderId: ID! = "7a1e0000-0000-4000-8000-00000000d001"
) {
  orderHistory(id: $orderId) {
    at(version: 1) {
      version status asOf
      total { amount currency }
    }
    statusHistory { status at version }
    events(first: 10) {
      edges {
        node { version type recordedAt data metadata }
      }
    }
  }
}

# 6. The read side: this server, and the newest
#    orders with their customers.
query Orders {
  serverInfo { version engine }
  orders(first: 5) {
    totalCount
    edges {
      node {
        id orderNumber status
        total { amount currency }
        customer { name }
      }
    }
  }
}
`;

/**
 * Browser code, inlined as source (plain JavaScript in a string: a compiled TypeScript
 * function's source may call helpers the browser does not have): GraphiQL's fetcher.
 *
 * Yoga's own fetcher would do, but for two things. Its WebSocket client connects with empty
 * `connectionParams`, which the server refuses (4401); this one sends the running tab's
 * headers. And GraphiQL's result pane shows each result of a subscription in place of the
 * last, so a replay flashes by and only the newest event stays; this one shows the list of
 * every result so far, oldest first.
 */
const FETCHER = `/** A subscription's result pane keeps this many results, the newest. */
const strataKeep = 200;

function strataFetcher(endpoint) {
  return function (params, options) {
    const headers = (options && options.headers) || {};
    const chosen = strataChosen(params, options && options.documentAST);
    const body = {
      query: chosen.query,
      variables: params.variables,
      operationName: params.operationName,
    };
    return chosen.type === 'subscription'
      ? strataSubscribe(endpoint, body, headers)
      : strataPost(endpoint, body, headers);
  };
}

/**
 * The operation to run and the text to send: that operation and the fragments (as yoga's
 * fetcher does, so the server's limits count what runs), or all of it when the parsed
 * document is not of this text. No parsed document (GraphiQL's schema query): a query.
 */
function strataChosen(params, documentAST) {
  const definitions = (documentAST && documentAST.definitions) || [];
  const operations = definitions.filter(function (d) {
    return d.kind === 'OperationDefinition';
  });
  const chosen = params.operationName
    ? operations.find(function (d) {
        return d.name && d.name.value === params.operationName;
      })
    : operations.length === 1
      ? operations[0]
      : undefined;
  if (!chosen) return { type: undefined, query: params.query };
  const sameText = definitions.every(function (d) {
    return d.loc && d.loc.source && d.loc.source.body === params.query;
  });
  const query = sameText
    ? definitions
        .filter(function (d) {
          return d.kind !== 'OperationDefinition' || d === chosen;
        })
        .map(function (d) {
          return params.query.slice(d.loc.start, d.loc.end);
        })
        .join('\\n\\n')
    : params.query;
  return { type: chosen.operation, query: query };
}

async function strataPost(endpoint, body, headers) {
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: Object.assign(
      {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json, application/json',
      },
      headers,
    ),
    body: JSON.stringify(body),
  });
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    const status = 'HTTP ' + response.status + ' ' + response.statusText;
    return { errors: [{ message: status + (text ? ': ' + text : ' (no body)') }] };
  }
}

/**
 * graphql-ws (the graphql-transport-ws protocol), one socket per subscription, as an
 * observable GraphiQL subscribes to: each result the server sends is added to the list the
 * pane shows; a refusal or a closed socket is shown as the list's last entry.
 */
function strataSubscribe(endpoint, body, headers) {
  return {
    subscribe: function (sink) {
      const results = [];
      let dropped = 0;
      let done = false;
      const url = new URL(endpoint);
      url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
      const socket = new WebSocket(url, 'graphql-transport-ws');
      const send = function (message) {
        socket.send(JSON.stringify(message));
      };
      const show = function (result) {
        results.push(result);
        if (results.length > strataKeep) {
          results.shift();
          dropped++;
        }
        const shown = dropped
          ? ['… ' + dropped + ' earlier results not shown'].concat(results)
          : results.slice();
        // GraphiQL merges an array it is given as the parts of one incremental result;
        // an object it prints with JSON.stringify, and toJSON makes that the list.
        sink.next({ toJSON: function () { return shown; } });
      };
      const finish = function () {
        if (done) return;
        done = true;
        sink.complete();
      };
      socket.onopen = function () {
        send({ type: 'connection_init', payload: headers });
      };
      socket.onmessage = function (event) {
        let message;
        try {
          message = JSON.parse(event.data);
        } catch {
          return;
        }
        if (message.type === 'connection_ack') send({ id: '1', type: 'subscribe', payload: body });
        else if (message.type === 'ping') send({ type: 'pong' });
        else if (message.type === 'next') show(message.payload);
        else if (message.type === 'error' || message.type === 'complete') {
          if (message.type === 'error') show({ errors: message.payload });
          finish();
          socket.close(1000);
        }
      };
      socket.onclose = function (event) {
        if (done) return;
        const reason = event.reason ? ' ' + event.reason : '';
        show({ errors: [{ message: 'The WebSocket closed: ' + event.code + reason }] });
        finish();
      };
      return {
        unsubscribe: function () {
          if (done) return;
          done = true;
          if (socket.readyState === WebSocket.OPEN) send({ id: '1', type: 'complete' });
          socket.close(1000);
        },
      };
    },
  };
}`;

/** GraphiQL's page is the GraphQL endpoint's answer to a browser (yoga.ts). */
const GRAPHQL_PATH = '/graphql';

/** Where GraphiQL's assets are served (by {@link serveGraphiQLAsset}). */
const GRAPHIQL_ASSETS_PATH = '/graphiql/';

interface Asset {
  /** The URL, with the content's hash in it: a new content is a new URL. */
  readonly url: string;
  readonly type: string;
  readonly body: Buffer;
  readonly hash: string;
  /** Compressed on first request, then kept. */
  readonly encoded: Map<Encoding, Promise<Buffer>>;
}

type Encoding = 'br' | 'gzip';

interface Assets {
  readonly byUrl: Map<string, Asset>;
  readonly js: Asset;
  readonly css: Asset;
  readonly favicon: Asset;
  readonly workers: Record<'editorWorkerService' | 'json' | 'graphql', Asset>;
}

let assets: Assets | undefined;

/** Built on first use: a process that never serves GraphiQL never hashes its 9 MB. */
function graphiqlAssets(): Assets {
  if (assets) return assets;
  const byUrl = new Map<string, Asset>();
  const asset = (name: string, ext: string, type: string, body: Buffer): Asset => {
    const hash = createHash('sha256').update(body).digest('hex').slice(0, 16);
    const made = {
      url: `${GRAPHIQL_ASSETS_PATH}${name}.${hash}.${ext}`,
      type,
      body,
      hash,
      encoded: new Map(),
    };
    byUrl.set(made.url, made);
    return made;
  };
  const script = (name: string, source: string) =>
    asset(name, 'js', 'text/javascript; charset=utf-8', Buffer.from(source));
  const icon = /^data:([^;,]+);base64,(.*)$/s.exec(favicon);
  assets = {
    byUrl,
    js: script('graphiql', js),
    css: asset('graphiql', 'css', 'text/css; charset=utf-8', Buffer.from(css)),
    favicon: asset(
      'favicon',
      'ico',
      icon?.[1] ?? 'image/x-icon',
      Buffer.from(icon?.[2] ?? '', 'base64'),
    ),
    workers: {
      editorWorkerService: script('editor.worker', editorWorkerService),
      json: script('json.worker', jsonWorker),
      graphql: script('graphql.worker', graphqlWorker),
    },
  };
  return assets;
}

const gzip = promisify(zlib.gzip);
const brotli = promisify(zlib.brotliCompress);

/**
 * Brotli at quality 5: 4% larger than quality 9 at a third of its time (the 5 MB script:
 * about 0.4 s, once, in the thread pool); quality 11 would take 20 s for 13% less.
 */
function encode(asset: Asset, encoding: Encoding): Promise<Buffer> {
  let done = asset.encoded.get(encoding);
  if (!done) {
    done =
      encoding === 'br'
        ? brotli(asset.body, {
            params: {
              [zlib.constants.BROTLI_PARAM_QUALITY]: 5,
              [zlib.constants.BROTLI_PARAM_SIZE_HINT]: asset.body.length,
            },
          })
        : gzip(asset.body);
    asset.encoded.set(encoding, done);
    // A failure is not kept: the next request tries again.
    done.catch(() => asset.encoded.delete(encoding));
  }
  return done;
}

/** The encoding to send for an `Accept-Encoding`: brotli, else gzip, else none. */
export function chooseEncoding(acceptEncoding: string | undefined): Encoding | undefined {
  const weights = new Map<string, number>();
  for (const part of (acceptEncoding ?? '').toLowerCase().split(',')) {
    const [coding, ...params] = part.split(';').map((p) => p.trim());
    if (!coding) continue;
    const q = params.find((p) => p.startsWith('q='));
    weights.set(coding, q === undefined ? 1 : Number(q.slice(2)) || 0);
  }
  const accepted = (coding: Encoding) => (weights.get(coding) ?? weights.get('*') ?? 0) > 0;
  return accepted('br') ? 'br' : accepted('gzip') ? 'gzip' : undefined;
}

/** Why GraphiQL is off, and what turns it on: for the start banner and for the browser. */
export function graphiqlOff(config: Pick<Config, 'production'>): string {
  return config.production
    ? 'off in production mode; STRATA_GRAPHIQL=true turns it on'
    : 'off (STRATA_GRAPHIQL=false); STRATA_GRAPHIQL=true turns it on';
}

/**
 * GraphiQL's part of the HTTP server, asked before the GraphQL server: its assets while it
 * is on ({@link serveGraphiQLAsset}); while it is off, a browser opening the endpoint (a GET
 * accepting HTML, as yoga would render GraphiQL for, with no query to run) is told so and
 * what turns it on, rather than answered with a GraphQL error. False for anything else.
 */
export async function serveGraphiQL(
  req: IncomingMessage,
  res: ServerResponse,
  config: Pick<Config, 'graphiql' | 'production' | 'introspection'>,
): Promise<boolean> {
  if (config.graphiql) return serveGraphiQLAsset(req, res);
  if (req.method !== 'GET' || !req.headers.accept?.includes('text/html')) return false;
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (url.pathname !== GRAPHQL_PATH || url.searchParams.has('query')) return false;
  res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  const docs = config.introspection
    ? ''
    : ' (with STRATA_INTROSPECTION=true for its docs and completion)';
  res.end(
    `GraphiQL is ${graphiqlOff(config)}${docs}. GraphQL itself answers at this URL: ` +
      'POST, GET with ?query=, WebSocket and SSE.\n',
  );
  return true;
}

/**
 * Answers a GET or HEAD of one of GraphiQL's assets, compressed as the browser accepts and
 * cacheable for a year (its URL changes with its content); an `If-None-Match` of it gets
 * 304. False for any other request, which goes on to the GraphQL server.
 */
async function serveGraphiQLAsset(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const path = (req.url ?? '/').split('?')[0]!;
  if (!path.startsWith(GRAPHIQL_ASSETS_PATH)) return false;
  const asset = graphiqlAssets().byUrl.get(path);
  if (!asset) return false;
  const encoding = chooseEncoding(req.headers['accept-encoding']);
  const headers = {
    'cache-control': 'public, max-age=31536000, immutable',
    etag: `"${asset.hash}${encoding ? `-${encoding}` : ''}"`,
    vary: 'Accept-Encoding',
  };
  // Every encoding of an asset is the same content: any of its tags is a match.
  const tags = req.headers['if-none-match']?.split(',') ?? [];
  if (tags.some((t) => t.trim().replace(/^W\//, '').startsWith(`"${asset.hash}`))) {
    res.writeHead(304, headers);
    res.end();
    return true;
  }
  const body = encoding ? await encode(asset, encoding) : asset.body;
  res.writeHead(200, {
    ...headers,
    'content-type': asset.type,
    'content-length': body.length,
    'x-content-type-options': 'nosniff',
    ...(encoding ? { 'content-encoding': encoding } : {}),
  });
  res.end(req.method === 'HEAD' ? undefined : body);
  return true;
}

/**
 * GraphiQL's page: a few kilobytes of HTML and options; its script, styles, icon and editor
 * workers come from {@link serveGraphiQLAsset}, from this server (no CDN), compressed, and
 * once per version (cached by their hashed URLs).
 */
export function renderGraphiQL(opts: GraphiQLOptions = {}): string {
  const a = graphiqlAssets();
  const workers = {
    editorWorkerService: a.workers.editorWorkerService.url,
    json: a.workers.json.url,
    graphql: a.workers.graphql.url,
  };
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>${escapeHtml(opts.title ?? 'GraphiQL')}</title>
    <link rel="icon" href="${escapeHtml(opts.favicon ?? a.favicon.url)}" />
    <link rel="stylesheet" href="${a.css.url}" />
  </head>
  <body id="body" class="no-focus-outline">
    <noscript>You need to enable JavaScript to run GraphiQL.</noscript>
    <div id="root"></div>
    <script>
      const strataWorkers = ${scriptJson(workers)};
      self['MonacoEnvironment'] = {
        globalAPI: false,
        getWorkerUrl: function (_moduleId, label) {
          return new URL(strataWorkers[label], location.href).href;
        },
      };
    </script>
    <script src="${a.js.url}"></script>
    <script>
      ${FETCHER}
      YogaGraphiQL.renderYogaGraphiQL(document.querySelector('#root'), {
        ...${scriptJson(opts)},
        fetcher: strataFetcher(new URL(location.pathname, location.href).href),
      });
    </script>
  </body>
</html>
`;
}

/** JSON that is safe inside a <script> element (no `</script>`, no `<!--`). */
function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replaceAll('<', '\\u003c')
    .replaceAll('\u2028', '\\u2028')
    .replaceAll('\u2029', '\\u2029');
}

function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}
