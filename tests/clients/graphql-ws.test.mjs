// graphql-ws, the graphql-transport-ws client, on its own: a query and a subscription on one
// connection, the token in connection_init.
import assert from "node:assert/strict";
import { test } from "node:test";

import { createClient } from "graphql-ws";
import WebSocket from "ws";

import { BOUNDED, EVENTS, assertReviewedEvent, bearer, gateway, wsUrl } from "./gateway.mjs";

test("a query and a subscription over graphql-ws", BOUNDED, async () => {
  const subscriber = gateway.subscribers["graphql-ws"];
  const client = createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: bearer(subscriber.token),
    lazy: true,
  });
  try {
    const viewer = client.iterate({ query: "{ viewer { partner { id } } }" });
    const answer = (await viewer.next()).value;
    assert.deepEqual(answer.data, { viewer: { partner: { id: subscriber.id } } });
    const events = client.iterate({ query: EVENTS, variables: { after: "0" } });
    const { value } = await events.next();
    assert.equal(value.errors, undefined);
    assertReviewedEvent(value.data.events, subscriber);
    await events.return();
  } finally {
    await client.dispose();
  }
});
