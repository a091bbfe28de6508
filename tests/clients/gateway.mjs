// The gateway tests/test_clients.py serves and prepared for this run (tests/clients_fixture.py):
// its URL, an admin token, partners with one event each, and partner ids to register.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";

const prepared = process.env.TSP_CLIENT_FIXTURES;
if (!prepared) {
  throw new Error("Run these through tests/test_clients.py (make test): it serves the gateway.");
}
export const gateway = JSON.parse(prepared);
export const httpUrl = `${gateway.url}/graphql`;
export const wsUrl = httpUrl.replace(/^http/, "ws");
export const bearer = (token) => ({ Authorization: `Bearer ${token}` });

export const sha256 = (text) => createHash("sha256").update(text).digest("hex");

// Each subscriber's feed holds one CATEGORY_APPLICATION_REVIEWED event: replayed from the start
// of the log (after: "0"), so no test races the event it waits for.
export const EVENTS = `subscription Events($after: String) {
  events(types: [CATEGORY_APPLICATION_REVIEWED], after: $after) {
    __typename type subjectId partnerId cursor
  }
}`;

export function assertReviewedEvent(event, subscriber) {
  assert.equal(event.__typename, "CategoryApplicationEvent");
  assert.equal(event.type, "CATEGORY_APPLICATION_REVIEWED");
  assert.equal(event.subjectId, subscriber.applicationId);
  assert.equal(event.partnerId, subscriber.id);
  assert.match(event.cursor, /^\d+$/);
}

export const REGISTER = `mutation Register($input: RegisterPartnerInput!) {
  registerPartner(input: $input) { partner { id name status } userErrors { field code } }
}`;

export const registration = (name) => ({
  name,
  type: "TSP",
  registrationRegion: "UK",
  targetMarkets: ["GB"],
  contactEmail: "clients@example.com",
});

// A query no other test (nor an earlier run) sends, so its APQ hash starts unknown.
export const uniqueQuery = (label) =>
  `query ${label}_${randomBytes(6).toString("hex")} {
    serviceCategories(first: 1) { nodes { name } } __typename
  }`;
export const FIRST_CATEGORY = { serviceCategories: { nodes: [{ name: "Shop Management" }] } };

// A fetch that records what the client sent, to check how it sent it (GET, POST, hash only).
export function recordingFetch() {
  const calls = [];
  const record = async (input, init = {}) => {
    const url = new URL(typeof input === "string" ? input : input.url);
    const body = typeof init.body === "string" ? JSON.parse(init.body) : undefined;
    const call = { method: init.method ?? "GET", url, body, accept: headerOf(init, "accept") };
    calls.push(call);
    const response = await fetch(input, init);
    call.status = response.status;
    call.contentType = response.headers.get("content-type");
    return response;
  };
  return { calls, fetch: record };
}

function headerOf(init, name) {
  const headers = new Headers(init.headers ?? {});
  return headers.get(name);
}

// What a recorded call named: the query text and the APQ hash, from the body or the URL.
export function sent(call) {
  const fromUrl = (key) => call.url.searchParams.get(key) ?? undefined;
  const extensions =
    call.body?.extensions ?? (fromUrl("extensions") ? JSON.parse(fromUrl("extensions")) : undefined);
  return {
    status: call.status,
    method: call.method,
    query: call.body?.query ?? fromUrl("query"),
    hash: extensions?.persistedQuery?.sha256Hash,
  };
}

// Each test's own bound: a stream that never delivers fails instead of hanging make test.
export const BOUNDED = { timeout: 30_000 };
