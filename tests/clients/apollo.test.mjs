// Apollo Client 4 as its users set it up: HttpLink (POST, Accept preferring
// application/graphql-response+json), the persisted-queries link falling back to the text on a
// miss (by POST, and by GET for hashed queries), and subscriptions over graphql-ws.
import assert from "node:assert/strict";
import { test } from "node:test";

import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";
import { GraphQLWsLink } from "@apollo/client/link/subscriptions";
import { createClient } from "graphql-ws";
import { firstValueFrom } from "rxjs";
import WebSocket from "ws";

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
  wsUrl,
} from "./gateway.mjs";

function apollo(link) {
  return new ApolloClient({ link, cache: new InMemoryCache() });
}

// Apollo's cache adds __typename to every selection: compare without it.
function withoutTypenames(value) {
  if (Array.isArray(value)) return value.map(withoutTypenames);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([key]) => key !== "__typename")
      .map(([key, inner]) => [key, withoutTypenames(inner)]),
  );
}

test("a query over HttpLink", BOUNDED, async () => {
  const recorder = recordingFetch();
  const client = apollo(new HttpLink({ uri: httpUrl, fetch: recorder.fetch }));
  const { data } = await client.query({ query: gql(uniqueQuery("ApolloQuery")) });
  assert.deepEqual(withoutTypenames(data), FIRST_CATEGORY);
  assert.equal(data.__typename, "Query");
  assert.equal(recorder.calls[0].method, "POST");
  assert.match(recorder.calls[0].accept, /^application\/graphql-response\+json/);
});

test("a mutation with variables", BOUNDED, async () => {
  const registrant = gateway.registrants.apollo;
  const client = apollo(new HttpLink({ uri: httpUrl, headers: bearer(registrant.token) }));
  const { data } = await client.mutate({
    mutation: gql(REGISTER),
    variables: { input: registration("Apollo Registrant") },
  });
  assert.deepEqual(withoutTypenames(data.registerPartner), {
    partner: { id: registrant.id, name: "Apollo Registrant", status: "ACTIVE" },
    userErrors: [],
  });
});

for (const useGETForHashedQueries of [false, true]) {
  const method = useGETForHashedQueries ? "GET" : "POST";
  test(`the persisted-queries link sends the hash by ${method}, then the text on a miss`, BOUNDED, async () => {
    const query = gql(uniqueQuery(`ApolloPersisted${method}`));
    const recorder = recordingFetch();
    const persisted = () =>
      apollo(
        ApolloLink.from([
          new PersistedQueryLink({ sha256, useGETForHashedQueries }),
          new HttpLink({ uri: httpUrl, fetch: recorder.fetch }),
        ]),
      );

    const missed = await persisted().query({ query });
    assert.deepEqual(withoutTypenames(missed.data), FIRST_CATEGORY);
    const [byHash, withText] = recorder.calls.map(sent);
    assert.equal(recorder.calls.length, 2);
    assert.deepEqual([byHash.method, byHash.query], [method, undefined]);
    // Apollo sends the text by POST, with the hash, so the gateway remembers it.
    assert.equal(withText.method, "POST");
    assert.equal(withText.hash, byHash.hash);
      assert.equal(sha256(withText.query), byHash.hash);
    // The miss, as the README says: 400 under application/graphql-response+json, which this
    // client prefers, and it still resends (it reads the errors of a 400 answer).
    assert.equal(byHash.status, 400);

    recorder.calls.length = 0;
    const hit = await persisted().query({ query });
    assert.deepEqual(withoutTypenames(hit.data), FIRST_CATEGORY);
    assert.deepEqual(
      recorder.calls.map(sent).map(({ method: verb, query: text }) => [verb, text]),
      [[method, undefined]],
    );
  });
}

test("a subscription over graphql-ws", BOUNDED, async () => {
  const subscriber = gateway.subscribers["apollo-ws"];
  const ws = createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: bearer(subscriber.token),
  });
  const client = apollo(new GraphQLWsLink(ws));
  try {
    const { data, error } = await firstValueFrom(
      client.subscribe({ query: gql(EVENTS), variables: { after: "0" } }),
    );
    assert.equal(error, undefined);
    assertReviewedEvent(data.events, subscriber);
  } finally {
    await ws.dispose();
  }
});
