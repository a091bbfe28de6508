// graphql-ws, the graphql-transport-ws client, on its own: a query and a subscription on one
// connection, the token in connection_init; operationName chosen by each operation.
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

test("operationName chooses the operation; an unknown one has its code", BOUNDED, async () => {
  const subscriber = gateway.subscribers["graphql-ws"];
  const client = createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: bearer(subscriber.token),
    lazy: true,
  });
  const document = "query Viewer { viewer { partner { id } } } query Typename { __typename }";
  try {
    const named = client.iterate({ query: document, operationName: "Typename" });
    assert.deepEqual((await named.next()).value.data, { __typename: "Query" });
    const unknown = client.iterate({ query: document, operationName: "Missing" });
    // An `error` message: graphql-ws throws its errors.
    await assert.rejects(unknown.next(), (errors) => {
      assert.equal(errors[0].extensions.code, "UNKNOWN_OPERATION_NAME");
      return true;
    });
  } finally {
    await client.dispose();
  }
});
