// The one way the app talks to the gateway: POST /graphql with a trusted document id.
import { documents, type OperationName } from "./generated/documents";
import type * as G from "./generated/graphql";

type Operations = {
  Viewer: [G.ViewerQuery, G.ViewerQueryVariables];
  OfferByLink: [G.OfferByLinkQuery, G.OfferByLinkQueryVariables];
  ServiceByLink: [G.ServiceByLinkQuery, G.ServiceByLinkQueryVariables];
  AuthorizeOffer: [G.AuthorizeOfferMutation, G.AuthorizeOfferMutationVariables];
  AuthorizeService: [G.AuthorizeServiceMutation, G.AuthorizeServiceMutationVariables];
  PartnerOffers: [G.PartnerOffersQuery, G.PartnerOffersQueryVariables];
  PartnerLiveServices: [G.PartnerLiveServicesQuery, G.PartnerLiveServicesQueryVariables];
  CreateOffer: [G.CreateOfferMutation, G.CreateOfferMutationVariables];
  WithdrawOffer: [G.WithdrawOfferMutation, G.WithdrawOfferMutationVariables];
  PartnerAuthorizations: [G.PartnerAuthorizationsQuery, G.PartnerAuthorizationsQueryVariables];
  PartnerRequests: [G.PartnerRequestsQuery, G.PartnerRequestsQueryVariables];
  AcceptRequest: [G.AcceptRequestMutation, G.AcceptRequestMutationVariables];
  RejectRequest: [G.RejectRequestMutation, G.RejectRequestMutationVariables];
  PartnerEvents: [G.PartnerEventsSubscription, G.PartnerEventsSubscriptionVariables];
  PartnerInsights: [G.PartnerInsightsQuery, G.PartnerInsightsQueryVariables];
  PartnerServiceInsights: [G.PartnerServiceInsightsQuery, G.PartnerServiceInsightsQueryVariables];
  RecordOfferLinkOpen: [G.RecordOfferLinkOpenMutation, G.RecordOfferLinkOpenMutationVariables];
  CurrentBulkExport: [G.CurrentBulkExportQuery, G.CurrentBulkExportQueryVariables];
  BulkExportProgress: [G.BulkExportProgressQuery, G.BulkExportProgressQueryVariables];
  StartBulkExport: [G.StartBulkExportMutation, G.StartBulkExportMutationVariables];
  CancelBulkExport: [G.CancelBulkExportMutation, G.CancelBulkExportMutationVariables];
};
// Every registered operation has its types, and every typed one is registered.
type Check<T extends Record<OperationName, unknown>> = T;
export type Registered = Check<Operations>;

export type Result<K extends OperationName> = Operations[K][0];
export type Variables<K extends OperationName> = Operations[K][1];

export type UserError = { field?: string[] | null; message: string; code: string };

/** The gateway could not be reached (network down, server restarting, overloaded). */
export class ApiUnreachable extends Error {}

/** The token is missing, expired or refused: the person must sign in (again). */
export class SignInRequired extends Error {}

/** The gateway answered with an error for the whole request. */
export class ApiRefused extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

type GraphQLError = { message: string; extensions?: { code?: string } };

export const ENDPOINT = "/graphql";

export async function call<K extends OperationName>(
  name: K,
  variables: Variables<K>,
  token?: string | null,
): Promise<Result<K>> {
  const headers: Record<string, string> = {
    "Content-Type": "application/json",
    Accept: "application/graphql-response+json, application/json",
  };
  if (token) headers.Authorization = `Bearer ${token}`;
  let response: Response;
  try {
    response = await fetch(ENDPOINT, {
      method: "POST",
      headers,
      body: JSON.stringify({ documentId: documents[name], variables, operationName: name }),
    });
  } catch {
    throw new ApiUnreachable("The network request failed.");
  }
  if (response.status >= 500 || response.status === 429) {
    throw new ApiUnreachable(`The gateway answered ${response.status}.`);
  }
  let body: { data?: Result<K> | null; errors?: GraphQLError[] };
  try {
    body = await response.json();
  } catch {
    throw new ApiUnreachable("The gateway's answer was not JSON.");
  }
  const errors = body.errors ?? [];
  const codes = errors.map((error) => error.extensions?.code);
  if (response.status === 401 || codes.includes("UNAUTHENTICATED")) {
    throw new SignInRequired(errors[0]?.message ?? "Please sign in.");
  }
  if (errors.length && !body.data) {
    throw new ApiRefused(errors.map((error) => error.message).join(" "), codes[0]);
  }
  if (!body.data) throw new ApiRefused("The gateway returned no data.", undefined);
  return body.data;
}

/** The input path of a userError without the argument name: ["input","contact","email"] -> "contact.email". */
export function fieldKey(error: UserError): string {
  const path = (error.field ?? []).filter((part) => !/^\d+$/.test(part));
  if (path[0] === "input") path.shift();
  return path.join(".");
}

/** A mutation's payload, which is null only when the whole field failed. */
export function payload<T>(value: T | null | undefined): T {
  if (value === null || value === undefined) throw new ApiRefused("The gateway returned no result.", undefined);
  return value;
}

/** Codes with which the gateway refuses a cursor it cannot resume from (pruned, or beyond the
 * log's end after a restore): retrying it can never succeed. */
const UNRESUMABLE_CURSOR = new Set(["EVENT_CURSOR_PRUNED", "INVALID_CURSOR"]);

/**
 * Follows the caller's events over GraphQL over SSE (a POST of the trusted subscription that
 * accepts text/event-stream) and calls ``onEvent`` for each. A dropped stream is resumed after
 * the last cursor seen, so nothing is missed. When the gateway refuses that cursor (the events
 * after it were pruned, or the store was restored), what happened since cannot be replayed:
 * ``onGap`` is called, so the page reads its data again, and the stream starts over from now.
 * The returned function stops listening.
 */
export function listen(
  token: string,
  onEvent: (event: Result<"PartnerEvents">["events"]) => void,
  onGap: () => void,
): () => void {
  const stop = new AbortController();
  let after: string | null = null;
  let failures = 0;
  let resumeAt: number | null = null;
  const follow = async (): Promise<void> => {
    while (!stop.signal.aborted) {
      resumeAt = null;
      try {
        const response = await fetch(ENDPOINT, {
          method: "POST",
          signal: stop.signal,
          headers: {
            "Content-Type": "application/json",
            Accept: "text/event-stream",
            Authorization: `Bearer ${token}`,
          },
          body: JSON.stringify({
            documentId: documents.PartnerEvents,
            variables: { after },
            operationName: "PartnerEvents",
          }),
        });
        if (!response.ok || !response.body) throw new Error(`stream answered ${response.status}`);
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          // Events end with a blank line; the gateway writes CRLF line ends.
          buffer = (buffer + value).replace(/\r\n/g, "\n");
          let end: number;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            const message = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const data = message
              .split("\n")
              .filter((line) => line.startsWith("data:"))
              .map((line) => line.slice(5).trim())
              .join("");
            if (!message.includes("event: next") || !data) continue;
            const result = JSON.parse(data) as {
              data?: Result<"PartnerEvents"> | null;
              errors?: GraphQLError[];
            };
            const event = result.data?.events;
            if (event) {
              failures = 0;
              after = event.cursor;
              onEvent(event);
            } else if (result.errors?.some((e) => UNRESUMABLE_CURSOR.has(e.extensions?.code ?? ""))) {
              after = null;
              resumeAt = 0;
              onGap();
            } else if (result.errors?.length) {
              failures += 1;
            }
          }
        }
      } catch {
        if (stop.signal.aborted) return;
        failures += 1;
      }
      // Reconnect (and resume after the last cursor) a little later, longer after failures;
      // at once after a refused cursor, whose gap the page is reading again.
      const wait = resumeAt ?? Math.min(30, 2 ** failures) * 1000;
      await new Promise((resume) => setTimeout(resume, wait));
    }
  };
  void follow();
  return () => stop.abort();
}
