// /partner: My service offers, create an offer, authorizations, requests inbox.
import { useState } from "preact/hooks";
import type * as G from "../generated/graphql";
import { ApiUnreachable, call, payload, SignInRequired, type UserError } from "../api";
import {
  ContactFields,
  DateField,
  FieldError,
  GeneralErrors,
  NotReady,
  SettingsFields,
  Shell,
  SignIn,
  Status,
  contactInput,
  splitErrors,
  type Contact,
} from "../components";
import { useLiveEvents, useQuery } from "../hooks";
import { storedToken, storeToken } from "../session";
import { addDays, formatDate, market, today, words } from "../words";
import { Exports } from "./ExportsPage";
import { Insights } from "./InsightsPage";
import { newKey } from "./seller";

export type PartnerView =
  | "offers"
  | "new"
  | "authorizations"
  | "requests"
  | "insights"
  | "exports";

const VIEWS: [PartnerView, string][] = [
  ["offers", "My service offers"],
  ["new", "Create service offer"],
  ["authorizations", "Authorizations"],
  ["requests", "Requests"],
  ["insights", "Insights"],
  ["exports", "Exports"],
];

const MAX_SERVICES = 10;

function failure(error: unknown, onSignIn: () => void): UserError[] {
  if (error instanceof SignInRequired) {
    onSignIn();
    return [{ field: null, code: "UNAUTHENTICATED", message: "Your sign-in has expired. Sign in again." }];
  }
  if (error instanceof ApiUnreachable) {
    return [{ field: null, code: "UNREACHABLE", message: "The TSP Gateway API cannot be reached right now. Nothing changed; try again in a moment." }];
  }
  return [{ field: null, code: "ERROR", message: (error as Error).message }];
}

export function PartnerPage(props: { view: PartnerView; go: (view: PartnerView) => void }) {
  const [token, setToken] = useState(storedToken("PARTNER"));
  const [reason, setReason] = useState<string | undefined>();
  const signIn = (value: string) => {
    storeToken("PARTNER", value);
    setReason(undefined);
    setToken(value);
  };
  const expired = () => {
    storeToken("PARTNER", null);
    setReason("Your sign-in has expired. Please sign in again.");
    setToken(null);
  };
  const [viewer] = useQuery("Viewer", {}, token, Boolean(token));
  const title = VIEWS.find(([view]) => view === props.view)?.[1] ?? "Partner";
  const nav = token ? (
    <nav aria-label="Partner pages">
      <ul class="tabs">
        {VIEWS.map(([view, label]) => (
          <li key={view}>
            <a
              href={`/partner/${view}`}
              aria-current={view === props.view ? "page" : undefined}
              onClick={(event) => {
                event.preventDefault();
                props.go(view);
              }}
            >
              {label}
            </a>
          </li>
        ))}
      </ul>
    </nav>
  ) : undefined;

  if (!token || viewer.state === "signin") {
    return (
      <Shell title="Partner sign-in">
        <h1>Partner Center</h1>
        <SignIn role="PARTNER" onToken={signIn} reason={reason ?? (viewer.state === "signin" ? "Your sign-in has expired. Please sign in again." : undefined)} />
      </Shell>
    );
  }
  if (viewer.state !== "ready") {
    return (
      <Shell title={title} nav={nav}>
        <NotReady loaded={viewer} what="your account" />
      </Shell>
    );
  }
  const partner = viewer.data.viewer.partner;
  if (!partner) {
    return (
      <Shell title="Partner sign-in">
        <h1>Partner Center</h1>
        <SignIn role="PARTNER" onToken={signIn} reason="This sign-in is not a partner's. Sign in as a partner." />
      </Shell>
    );
  }
  return (
    <Shell title={title} nav={nav}>
      <p class="muted">
        Signed in as <strong>{partner.name}</strong>{" "}
        <button type="button" class="link" onClick={() => { storeToken("PARTNER", null); setToken(null); }}>
          Sign out
        </button>
      </p>
      <h1>{title}</h1>
      {props.view === "offers" && <Offers token={token} onExpired={expired} go={props.go} />}
      {props.view === "new" && <CreateOffer token={token} onExpired={expired} go={props.go} />}
      {props.view === "authorizations" && <Authorizations token={token} onExpired={expired} />}
      {props.view === "requests" && <Requests token={token} onExpired={expired} />}
      {props.view === "insights" && <Insights token={token} onExpired={expired} />}
      {props.view === "exports" && <Exports token={token} onExpired={expired} />}
    </Shell>
  );
}

type Props = { token: string; onExpired: () => void };

function linkOf(token: string): string {
  return `${location.origin}/authorize/${token}`;
}

function Offers(props: Props & { go: (view: PartnerView) => void }) {
  const [query, reload] = useQuery("PartnerOffers", {}, props.token);
  useLiveEvents(props.token, reload);
  const [copied, setCopied] = useState<string | null>(null);
  const [confirming, setConfirming] = useState<string | null>(null);
  const [errors, setErrors] = useState<UserError[]>([]);
  if (query.state !== "ready") return <NotReady loaded={query} what="your offers" onSignIn={props.onExpired} />;
  const offers = query.data.viewer.partner?.serviceOffers.nodes ?? [];
  const copy = async (token: string) => {
    try {
      await navigator.clipboard.writeText(linkOf(token));
    } catch {
      // Without clipboard access the link stays visible and selectable below.
    }
    setCopied(token);
  };
  const withdraw = async (id: string) => {
    setErrors([]);
    try {
      const data = await call("WithdrawOffer", { id }, props.token);
      setErrors(payload(data.withdrawServiceOffer).userErrors);
      setConfirming(null);
      reload();
    } catch (error) {
      setErrors(failure(error, props.onExpired));
    }
  };
  return (
    <section aria-label="Offers">
      <GeneralErrors errors={errors} />
      <p>
        <button type="button" class="primary" onClick={() => props.go("new")}>
          Create service offer
        </button>
      </p>
      {offers.length === 0 && <p>No offers yet.</p>}
      <ul class="cards" id="offers">
        {offers.map((offer) => (
          <li key={offer.id} class="card offer" data-offer={offer.id}>
            <div class="offer-head">
              <Status value={offer.status} />
              <span class="muted">
                {formatDate(offer.startDate)} – {formatDate(offer.endDate)} · created {formatDate(offer.createdAt)}
              </span>
            </div>
            <p class="offer-services">{offer.services.map((service) => service.name).join(", ")}</p>
            {offer.linkToken && (
              <div class="actions">
                <button type="button" onClick={() => copy(offer.linkToken!)} aria-describedby={`link-${offer.id}`}>
                  Copy link
                </button>
                {offer.status === "OPEN" && confirming !== offer.id && (
                  <button type="button" class="danger" onClick={() => setConfirming(offer.id)}>
                    Withdraw
                  </button>
                )}
                {confirming === offer.id && (
                  <span role="group" aria-label="Confirm withdrawal">
                    <span>Withdraw this offer? Its link will say so. </span>
                    <button type="button" class="danger" onClick={() => withdraw(offer.id)}>
                      Yes, withdraw
                    </button>{" "}
                    <button type="button" onClick={() => setConfirming(null)}>
                      Keep it
                    </button>
                  </span>
                )}
              </div>
            )}
            {offer.linkToken && (
              <p class="link-line">
                <a id={`link-${offer.id}`} href={`/authorize/${offer.linkToken}`} class="offer-link">
                  {linkOf(offer.linkToken)}
                </a>
                {copied === offer.linkToken && (
                  <span role="status" class="copied">
                    {" "}
                    Link copied
                  </span>
                )}
              </p>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}

const OFFER_FIELDS = ["serviceIds", "startDate", "endDate", "settings", "contact.name", "contact.email", "contact.phone", "contact"];

function CreateOffer(props: Props & { go: (view: PartnerView) => void }) {
  const [query] = useQuery("PartnerLiveServices", {}, props.token);
  const [chosen, setChosen] = useState<string[]>([]);
  const [startDate, setStartDate] = useState(today());
  const [endDate, setEndDate] = useState(addDays(today(), 90));
  const [settings, setSettings] = useState<G.AuthorizationSettingsInput>({
    authorizeObject: "SHOP",
    ticketAuthorization: false,
    tspAccess: false,
    dataCompassAccess: false,
  });
  const [contact, setContact] = useState<Contact>({ name: "", email: "", phone: "" });
  const [errors, setErrors] = useState<UserError[]>([]);
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState<string | null>(null);
  const [key] = useState(newKey);
  if (query.state !== "ready") return <NotReady loaded={query} what="your live services" onSignIn={props.onExpired} />;
  const services = query.data.viewer.partner?.services.nodes ?? [];
  const { byField, general } = splitErrors(errors, OFFER_FIELDS);
  if (created) {
    return (
      <section class="card done" id="created">
        <h2>Offer created</h2>
        <p>Share this link with the seller:</p>
        <p>
          <a href={`/authorize/${created}`}>{linkOf(created)}</a>
        </p>
        <button type="button" onClick={() => props.go("offers")}>
          Back to My service offers
        </button>
      </section>
    );
  }
  const submit = async () => {
    setBusy(true);
    setErrors([]);
    try {
      const data = await call(
        "CreateOffer",
        { input: { serviceIds: chosen, startDate, endDate, settings, contact: contactInput(contact), idempotencyKey: key } },
        props.token,
      );
      const result = payload(data.createServiceOffer);
      if (result.userErrors.length) setErrors(result.userErrors);
      else if (result.serviceOffer?.linkToken) setCreated(result.serviceOffer.linkToken);
    } catch (error) {
      setErrors(failure(error, props.onExpired));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form
      class="card"
      noValidate
      aria-label="Create service offer"
      onSubmit={(event) => {
        event.preventDefault();
        submit();
      }}
    >
      <GeneralErrors errors={general} />
      <fieldset aria-describedby="offer-services-count offer-services-error">
        <legend>Services (live ones, at most {MAX_SERVICES})</legend>
        <p id="offer-services-count" class="muted" aria-live="polite">
          {chosen.length} of at most {MAX_SERVICES} chosen
        </p>
        {services.length === 0 && <p>You have no live services.</p>}
        {services.map((service) => (
          <label key={service.id} class="choice">
            <input
              type="checkbox"
              name="serviceIds"
              value={service.id}
              checked={chosen.includes(service.id)}
              disabled={!chosen.includes(service.id) && chosen.length >= MAX_SERVICES}
              onChange={(event) =>
                setChosen(event.currentTarget.checked ? [...chosen, service.id] : chosen.filter((id) => id !== service.id))
              }
            />
            {service.name}{" "}
            <span class="muted">
              ({service.type === "PUBLIC" ? "public" : "custom"}, {market(service.market)})
            </span>
          </label>
        ))}
        <FieldError id="offer-services-error" messages={byField["serviceIds"]} />
      </fieldset>
      <fieldset>
        <legend>Service duration</legend>
        <div class="row">
          <DateField id="offer-start" label="Start date" value={startDate} min={today()} onChange={setStartDate} messages={byField["startDate"]} />
          <DateField id="offer-end" label="End date" value={endDate} min={startDate} onChange={setEndDate} messages={byField["endDate"]} />
        </div>
      </fieldset>
      <SettingsFields value={settings} onChange={setSettings} errors={byField} idPrefix="offer" />
      <ContactFields value={contact} onChange={setContact} errors={byField} idPrefix="offer" legend="Seller contact (optional: the seller may fill it in)" />
      <div class="actions">
        <button type="submit" class="primary" disabled={busy}>
          {busy ? "Creating…" : "Create offer"}
        </button>
      </div>
    </form>
  );
}

type AuthorizationRow = NonNullable<G.PartnerAuthorizationsQuery["viewer"]["partner"]>["all"]["nodes"][number];

function AuthorizationTable(props: { rows: AuthorizationRow[]; id: string; caption: string }) {
  if (!props.rows.length) return <p class="muted">None.</p>;
  return (
    <div class="table-wrap">
      <table id={props.id} class="stack">
        <caption class="sr-only">{props.caption}</caption>
        <thead>
          <tr>
            <th scope="col">Service</th>
            <th scope="col">Seller</th>
            <th scope="col">Period</th>
            <th scope="col">Days left</th>
            <th scope="col">Status</th>
          </tr>
        </thead>
        <tbody>
          {props.rows.map((row) => (
            <tr key={row.id}>
              <td data-label="Service">{row.service.name}</td>
              <td data-label="Seller">{row.seller.name}</td>
              <td data-label="Period">
                {formatDate(row.startDate)} – {formatDate(row.endDate)}
              </td>
              <td data-label="Days left">{row.status === "ACTIVE" ? row.daysRemaining : "–"}</td>
              <td data-label="Status">
                <Status value={row.status} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Authorizations(props: Props) {
  const [query, reload] = useQuery("PartnerAuthorizations", {}, props.token);
  useLiveEvents(props.token, reload);
  if (query.state !== "ready") return <NotReady loaded={query} what="authorizations" onSignIn={props.onExpired} />;
  const partner = query.data.viewer.partner;
  const soon = partner?.endingSoon.nodes ?? [];
  const soonIds = new Set(soon.map((row) => row.id));
  const rest = (partner?.all.nodes ?? []).filter((row) => !soonIds.has(row.id));
  return (
    <>
      <section aria-labelledby="soon-title">
        <h2 id="soon-title">Ending within 15 days</h2>
        <AuthorizationTable rows={soon} id="ending-soon" caption="Authorizations ending within 15 days" />
      </section>
      <section aria-labelledby="all-title">
        <h2 id="all-title">All other authorizations</h2>
        <AuthorizationTable rows={rest} id="all-authorizations" caption="Other authorizations" />
      </section>
    </>
  );
}

function Requests(props: Props) {
  const [query, reload] = useQuery("PartnerRequests", {}, props.token);
  useLiveEvents(props.token, reload);
  const [rejecting, setRejecting] = useState<string | null>(null);
  const [reason, setReason] = useState("");
  const [errors, setErrors] = useState<Record<string, UserError[]>>({});
  if (query.state !== "ready") return <NotReady loaded={query} what="requests" onSignIn={props.onExpired} />;
  const requests = query.data.viewer.partner?.requests.nodes ?? [];
  const act = async (id: string, run: () => Promise<UserError[]>) => {
    try {
      const problems = await run();
      setErrors({ ...errors, [id]: problems });
      if (!problems.length) {
        setRejecting(null);
        setReason("");
        reload();
      }
    } catch (error) {
      setErrors({ ...errors, [id]: failure(error, props.onExpired) });
    }
  };
  return (
    <ul class="cards" id="requests">
      {requests.length === 0 && <li class="muted">No requests yet.</li>}
      {requests.map((request) => {
        const split = splitErrors(errors[request.id] ?? [], ["reason"]);
        return (
          <li key={request.id} class="card request">
            <div class="offer-head">
              <Status value={request.status} />
              <span class="muted">received {formatDate(request.createdAt)}</span>
            </div>
            <p>
              <strong>{request.seller.name}</strong> · {request.contact.subject} ·{" "}
              <a href={`mailto:${request.contact.email}`}>{request.contact.email}</a>
              {request.contact.location ? ` · ${request.contact.location}` : ""}
            </p>
            <p class="muted">
              {words(request.business.mainProductCategory)} · {words(request.business.companySize)} employees · budget{" "}
              {request.business.monthlyBudget.amount} {request.business.monthlyBudget.currency} a month
            </p>
            {request.statusReason && <p>Reason: {request.statusReason}</p>}
            <GeneralErrors errors={split.general} />
            {request.status === "PARTNER_REVIEWING" && rejecting !== request.id && (
              <div class="actions">
                <button
                  type="button"
                  class="primary"
                  onClick={() => act(request.id, async () => payload((await call("AcceptRequest", { id: request.id }, props.token)).acceptRequest).userErrors)}
                >
                  Accept
                </button>
                <button type="button" onClick={() => setRejecting(request.id)}>
                  Reject…
                </button>
              </div>
            )}
            {rejecting === request.id && (
              <form
                noValidate
                onSubmit={(event) => {
                  event.preventDefault();
                  act(request.id, async () => payload((await call("RejectRequest", { id: request.id, reason }, props.token)).rejectRequest).userErrors);
                }}
              >
                <div class="field">
                  <label for={`reason-${request.id}`}>Reason for rejecting (the seller sees it)</label>
                  <textarea id={`reason-${request.id}`} rows={2} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
                  <FieldError id={`reason-${request.id}-error`} messages={split.byField["reason"]} />
                </div>
                <div class="actions">
                  <button type="submit" class="danger">
                    Reject request
                  </button>
                  <button type="button" onClick={() => setRejecting(null)}>
                    Cancel
                  </button>
                </div>
              </form>
            )}
          </li>
        );
      })}
    </ul>
  );
}
