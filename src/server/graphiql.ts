import {
  css,
  editorWorkerService,
  favicon,
  graphqlWorker,
  js,
  jsonWorker,
} from '@graphql-yoga/render-graphiql/graphiql';
import type { GraphiQLOptions } from 'graphql-yoga';

/*
 * The ids and command ids below are fixed on purpose: run an operation twice and the
 * second run is an idempotent replay (same answer, nothing written twice), and the later
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
#    the same one again replays the first answer.
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
 * function's source may call helpers the browser does not have). It follows the text of
 * the active tab's Headers editor through GraphiQL's `onEditHeaders` and `onTabChange`;
 * before any edit, the active tab's headers are those GraphiQL restored from its local
 * storage, else those the page opened with.
 */
const HEADER_TRACKING = `let strataHeadersText;
function strataParseHeaders(text) {
  try {
    const value = JSON.parse(text || '');
    return value && typeof value === 'object' && !Array.isArray(value) ? value : undefined;
  } catch {
    return undefined;
  }
}
function strataStoredHeaders() {
  try {
    const state = JSON.parse(localStorage.getItem('graphiql:tabState') || 'null');
    const tab = state && state.tabs && state.tabs[state.activeTabIndex || 0];
    return tab ? tab.headers : undefined;
  } catch {
    return undefined;
  }
}
function strataCurrentHeaders(initial) {
  return (
    strataParseHeaders(strataHeadersText) ||
    strataParseHeaders(strataStoredHeaders()) ||
    strataParseHeaders(initial) ||
    {}
  );
}`;

/**
 * GraphiQL's page, with every asset (script, styles, editor workers) inlined: no CDN.
 *
 * Yoga's GraphiQL sends the Headers tab with HTTP requests only; its WebSocket client
 * would connect with empty `connectionParams`, which the server refuses (4401). Here the
 * WebSocket client sends the active tab's headers as `connectionParams` each time it
 * connects, so subscriptions run with the same token as queries.
 */
export function renderGraphiQL(opts: GraphiQLOptions = {}): string {
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>${escapeHtml(opts.title ?? 'GraphiQL')}</title>
    <link rel="icon" href="${escapeHtml(opts.favicon ?? favicon)}" />
    <style>${css}</style>
  </head>
  <body id="body" class="no-focus-outline">
    <noscript>You need to enable JavaScript to run GraphiQL.</noscript>
    <div id="root"></div>
    <script>
      function strataWorkerUrl(source) {
        return URL.createObjectURL(new Blob([source], { type: 'application/javascript' }));
      }
      const strataWorkers = {
        editorWorkerService: strataWorkerUrl(${scriptJson(editorWorkerService)}),
        json: strataWorkerUrl(${scriptJson(jsonWorker)}),
        graphql: strataWorkerUrl(${scriptJson(graphqlWorker)}),
      };
      self['MonacoEnvironment'] = {
        globalAPI: false,
        getWorkerUrl: function (_moduleId, label) {
          return strataWorkers[label];
        },
      };
      ${js};
      ${HEADER_TRACKING}
      const strataOptions = ${scriptJson(opts)};
      YogaGraphiQL.renderYogaGraphiQL(document.querySelector('#root'), {
        ...strataOptions,
        onEditHeaders: function (text) {
          strataHeadersText = text;
        },
        onTabChange: function (state) {
          const tab = state.tabs[state.activeTabIndex];
          strataHeadersText = tab ? tab.headers : undefined;
        },
        // Called each time the WebSocket connects (it connects for the first running
        // subscription and closes after the last), so a changed token applies from the next.
        connectionParams: function () {
          return strataCurrentHeaders(strataOptions.headers);
        },
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
