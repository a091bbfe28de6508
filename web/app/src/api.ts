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
