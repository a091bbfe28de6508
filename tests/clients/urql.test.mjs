// urql as its users set it up: queries by GET (its default), mutations by POST, the
// persisted-queries exchange falling back to the text on a miss, subscriptions over SSE.
import assert from "node:assert/strict";
import { test } from "node:test";

import { Client, fetchExchange, subscriptionExchange } from "@urql/core";
import { persistedExchange } from "@urql/exchange-persisted";
import { createClient as createSSEClient } from "graphql-sse";
import { pipe, take, toPromise } from "wonka";

import {
  BOUNDED,
  EVENTS,
  FIRST_CATEGORY,
  REGISTER,
  assertReviewedEvent,
  bearer,
  gateway,
  httpUrl,
  recordingFetch,
  registration,
  sent,
  sha256,
  uniqueQuery,
} from "./gateway.mjs";

// urql aborts a stream's fetch when its subscription ends, and nothing of urql's awaits the
// body read Node's fetch then rejects: the test runner would count that as a failure after the
// test. This fetch ends such a body quietly instead; the events are read as urql reads them.
async function fetchEndingQuietlyOnAbort(input, init) {
  const response = await fetch(input, init);
  const reader = response.body.getReader();
  const body = new ReadableStream({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      } catch {
        controller.close();
      }
    },
    cancel: () => reader.cancel().catch(() => {}),
  });
  return new Response(body, { status: response.status, headers: response.headers });
}

// The Accept urql sends for a query (the first test checks it): a stream listed after the JSON
// types.
const QUERY_ACCEPT =
  "application/graphql-response+json, application/graphql+json, application/json, " +
  "text/event-stream, multipart/mixed";

function client(options = {}) {
  return new Client({ url: httpUrl, exchanges: [fetchExchange], ...options });
}

test("a query goes by GET with urql's default Accept and is answered as JSON", BOUNDED, async () => {
  const recorder = recordingFetch();
  const result = await client({ fetch: recorder.fetch })
    .query(uniqueQuery("UrqlQuery"), {})
    .toPromise();
  assert.equal(result.error, undefined);
  assert.deepEqual(result.data, { ...FIRST_CATEGORY, __typename: "Query" });
  const [call] = recorder.calls;
  assert.equal(call.method, "GET");
  // urql lists text/event-stream after JSON: a plain query still gets JSON, not a stream.
  assert.equal(call.accept, QUERY_ACCEPT);
});

test("a mutation with variables goes by POST", BOUNDED, async () => {
  const registrant = gateway.registrants.urql;
  const recorder = recordingFetch();
  const result = await client({
    fetch: recorder.fetch,
    fetchOptions: { headers: bearer(registrant.token) },
  })
    .mutation(REGISTER, { input: registration("Urql Registrant") })
    .toPromise();
  assert.equal(result.error, undefined);
  assert.deepEqual(result.data.registerPartner, {
    partner: { id: registrant.id, name: "Urql Registrant", status: "ACTIVE" },
    userErrors: [],
  });
  assert.equal(recorder.calls[0].method, "POST");
});

test("the persisted-queries exchange sends the hash, then the text on a miss", BOUNDED, async () => {
  const query = uniqueQuery("UrqlPersisted");
  const recorder = recordingFetch();
  const persisted = () =>
    client({ fetch: recorder.fetch, exchanges: [persistedExchange(), fetchExchange] });

  const missed = await persisted().query(query, {}).toPromise();
  assert.equal(missed.error, undefined);
  assert.deepEqual(missed.data, { ...FIRST_CATEGORY, __typename: "Query" });
  const [byHash, withText] = recorder.calls.map(sent);
  assert.equal(recorder.calls.length, 2);
  assert.deepEqual([byHash.method, byHash.query], ["GET", undefined]);
  assert.match(withText.query, /^query UrqlPersisted/);
  assert.equal(withText.hash, byHash.hash);
  assert.equal(sha256(withText.query), byHash.hash);
  // The miss, as the README says: 400 under application/graphql-response+json, which this
  // client prefers, and it still resends (it reads the errors of a 400 answer).
  assert.equal(byHash.status, 400);

  // Known now: a new client's GET by hash alone is answered.
  recorder.calls.length = 0;
  const hit = await persisted().query(query, {}).toPromise();
  assert.equal(hit.error, undefined);
  assert.deepEqual(hit.data, { ...FIRST_CATEGORY, __typename: "Query" });
  assert.deepEqual(
    recorder.calls.map(sent).map(({ method, query: text }) => [method, text]),
    [["GET", undefined]],
  );
});

async function firstEvent(source) {
  return pipe(source, take(1), toPromise);
}

test("a subscription over SSE with urql's own fetch transport", BOUNDED, async () => {
  const subscriber = gateway.subscribers["urql-sse"];
  const urql = client({
    fetch: fetchEndingQuietlyOnAbort,
    fetchSubscriptions: true,
    fetchOptions: { headers: bearer(subscriber.token) },
  });
  const result = await firstEvent(urql.subscription(EVENTS, { after: "0" }));
  assert.equal(result.error, undefined);
  assertReviewedEvent(result.data.events, subscriber);
});

test("a subscription sent with the Accept urql sends for queries streams too", BOUNDED, async () => {
  // urql asks for a stream first for a subscription; an app whose fetchOptions set one Accept
  // for every operation (they override urql's own) may send the one for queries, where JSON
  // comes first. The gateway streams the subscription all the same, and urql reads it.
  const subscriber = gateway.subscribers["urql-sse-query-accept"];
  let accept;
  const urql = client({
    fetch: (input, init) => {
      accept = new Headers(init.headers).get("accept");
      return fetchEndingQuietlyOnAbort(input, init);
    },
    fetchSubscriptions: true,
    fetchOptions: { headers: { ...bearer(subscriber.token), Accept: QUERY_ACCEPT } },
  });
  const result = await firstEvent(urql.subscription(EVENTS, { after: "0" }));
  assert.equal(accept, QUERY_ACCEPT);
  assert.equal(result.error, undefined);
  assertReviewedEvent(result.data.events, subscriber);
});

test("a subscription over SSE through subscriptionExchange and graphql-sse", BOUNDED, async () => {
  const subscriber = gateway.subscribers["urql-graphql-sse"];
  const sse = createSSEClient({ url: httpUrl, headers: bearer(subscriber.token) });
  const urql = client({
    exchanges: [
      fetchExchange,
      subscriptionExchange({
        forwardSubscription(request) {
          const input = { ...request, query: request.query || "" };
          return {
            subscribe(sink) {
              return { unsubscribe: sse.subscribe(input, sink) };
            },
          };
        },
      }),
    ],
  });
  try {
    const result = await firstEvent(urql.subscription(EVENTS, { after: "0" }));
    assert.equal(result.error, undefined);
    assertReviewedEvent(result.data.events, subscriber);
  } finally {
    sse.dispose();
  }
});
