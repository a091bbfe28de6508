// The GraphQL-over-HTTP server audit of graphql-http against the endpoint given as the only
// argument; prints every result as JSON for tests/test_clients.py to judge.
import { auditServer } from "graphql-http";

const [url] = process.argv.slice(2);
const results = await auditServer({ url });
const summary = await Promise.all(
  results.map(async (result) => ({
    id: result.id,
    name: result.name,
    status: result.status,
    reason: result.status === "ok" ? null : result.reason,
    // What the server answered, to tell a refusal by design from a failure.
    response:
      result.status === "ok" ? null : `${result.response.status} ${await result.response.text()}`,
  })),
);
console.log(JSON.stringify(summary, null, 2));
