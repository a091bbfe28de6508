// graphql-sse, the GraphQL over SSE client, on its own ("distinct connections" mode: one
// stream per operation, the token in a header).
import assert from "node:assert/strict";
import { test } from "node:test";

import { createClient } from "graphql-sse";

import { BOUNDED, EVENTS, assertReviewedEvent, bearer, gateway, httpUrl } from "./gateway.mjs";

test("a query and a subscription over graphql-sse", BOUNDED, async () => {
  const subscriber = gateway.subscribers["graphql-sse"];
  const client = createClient({ url: httpUrl, headers: bearer(subscriber.token) });
  try {
    const viewer = client.iterate({ query: "{ viewer { partner { id } } }" });
    const answer = (await viewer.next()).value;
    assert.deepEqual(answer.data, { viewer: { partner: { id: subscriber.id } } });
    await viewer.return();
    const events = client.iterate({ query: EVENTS, variables: { after: "0" } });
    const { value } = await events.next();
    assert.equal(value.errors, undefined);
    assertReviewedEvent(value.data.events, subscriber);
    await events.return();
  } finally {
    client.dispose();
  }
});

test("an unknown operationName over graphql-sse has its code", BOUNDED, async () => {
  const client = createClient({ url: httpUrl });
  try {
    const unknown = client.iterate({
      query: "query Typename { __typename }",
      operationName: "Missing",
    });
    // The stream's first event (GraphQL over SSE reports request errors in the stream).
    const { value } = await unknown.next();
    assert.equal(value.errors[0].extensions.code, "UNKNOWN_OPERATION_NAME");
    await unknown.return();
  } finally {
    client.dispose();
  }
});
