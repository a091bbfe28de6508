// /authorize/service/<token>: the default authorization application; the seller fills it in.
import { useState } from "preact/hooks";
import type * as G from "../generated/graphql";
import { ApiUnreachable, call, payload, SignInRequired, type UserError } from "../api";
import {
  ContactFields,
  DateField,
  NotReady,
  SettingsFields,
  SettingsList,
  Shell,
  Status,
  contactInput,
  splitErrors,
} from "../components";
import { dateProblems, todayUtc, type Draft } from "../draft";
import { useQuery } from "../hooks";
import { addDays, formatDate, market, words } from "../words";
import { LinkProblem } from "./OfferPage";
import {
  CoverageFields,
  ErrorSummary,
  FORM_FIELDS,
  SignedIn,
  coverageInput,
  newKey,
  useDraft,
  useFocusLater,
  useSeller,
} from "./seller";

type Granted = NonNullable<NonNullable<G.AuthorizeServiceMutation["authorizeService"]>["authorization"]>;

function blankDraft(serviceId: string): Draft {
  return {
    serviceIds: [serviceId],
    startDate: todayUtc(),
    endDate: addDays(todayUtc(), 365),
    settings: { authorizeObject: "SHOP", ticketAuthorization: false, tspAccess: false, dataCompassAccess: false },
    contact: { name: "", email: "", phone: "" },
    shopIds: null,
    tiktokAccountIds: null,
  };
}

const unavailableWords: Record<string, string> = {
  SERVICE_NOT_LIVE: "This service is not live at the moment, so it cannot be authorized.",
  PARTNER_CLOSED: "The partner has been removed from the platform, so its services cannot be authorized.",
};

export function ServiceLinkPage(props: { token: string }) {
  const [linkQuery] = useQuery("ServiceByLink", { token: props.token }, null);
  const me = useSeller();
  const [draft, storeDraft] = useDraft(me.seller?.id ?? null, `service.${props.token}`);
  const [review, setReview] = useState(false);
  const [errors, setErrors] = useState<UserError[]>([]);
  const [busy, setBusy] = useState(false);
  const [granted, setGranted] = useState<Granted | null>(null);
  const [key, setKey] = useState(newKey);
  const focus = useFocusLater();

  if (linkQuery.state !== "ready") {
    return (
      <Shell title="Authorize a service">
        <NotReady loaded={linkQuery} what="the service" />
      </Shell>
    );
  }
  const link = linkQuery.data.serviceByAuthorizationLink;
  if (!link) {
    return (
      <LinkProblem title="No service behind this link">
        <p>This authorization link does not lead to any service. Ask the partner who sent it for the link again.</p>
      </LinkProblem>
    );
  }
  const { service } = link;
  const current = draft ?? blankDraft(service.id);
  const setDraft = (value: Draft) => {
    storeDraft(value);
    setKey(newKey());
  };
  const { byField } = splitErrors(errors, FORM_FIELDS);

  const confirm = async () => {
    // The button stays focusable while busy (aria-disabled), so a second click arrives here.
    if (!me.seller || busy) return;
    setBusy(true);
    setErrors([]);
    const input: G.AuthorizeServiceInput = {
      startDate: current.startDate,
      endDate: current.endDate,
      settings: current.settings,
      contact: contactInput(current.contact),
      ...coverageInput(me.seller, current),
      idempotencyKey: key,
    };
    try {
      const data = await call("AuthorizeService", { token: props.token, input }, me.token);
      const result = payload(data.authorizeService);
      if (result.userErrors.length || !result.authorization) {
        setErrors(result.userErrors);
        setReview(false);
        focus("#form-errors");
      } else {
        setGranted(result.authorization);
        storeDraft(null);
        focus("#done-title");
      }
    } catch (error) {
      if (error instanceof SignInRequired) {
        me.expire("Your sign-in has expired. Sign in again: your choices are kept.");
      } else {
        const message =
          error instanceof ApiUnreachable
            ? "The TSP Gateway API cannot be reached right now. Nothing was authorized; your choices are kept, so try again in a moment."
            : (error as Error).message;
        setErrors([{ field: null, code: error instanceof ApiUnreachable ? "UNREACHABLE" : "ERROR", message }]);
        focus("#form-errors");
      }
    } finally {
      setBusy(false);
    }
  };

  return (
    <Shell title={`Authorize ${service.name}`}>
      <h1>Authorize {service.name}</h1>
      <p class="lead">
        Default authorization application from <strong>{service.partner.name}</strong>: you choose the details.
      </p>
      {!link.available && (
        <div class="alert alert-info" role="status" id="offer-closed">
          {unavailableWords[link.unavailableReason ?? ""] ?? "This service cannot be authorized now."}
        </div>
      )}
      <div class="columns">
        <div>
          <section class="card" aria-labelledby="service-title">
            <h2 id="service-title">Service</h2>
            <p>
              <strong>{service.name}</strong>
              <span class="muted">
                {" "}
                · {service.category.name} · {service.type === "PUBLIC" ? "Public service" : "Custom service"} ·{" "}
                {market(service.market)}
              </span>
            </p>
            {service.description && <p>{service.description}</p>}
            {service.pricing && <p class="muted">Pricing: {service.pricing}</p>}
            <p>
              Partner: <strong>{service.partner.name}</strong> · {words(service.partner.type)}
              {service.partner.contactEmail && (
                <>
                  {" · "}
                  <a href={`mailto:${service.partner.contactEmail}`}>{service.partner.contactEmail}</a>
                </>
              )}
            </p>
          </section>
        </div>
        <div>
          {link.available && !granted && me.panel}
          {link.available && me.seller && (
            <SignedIn
              seller={me.seller}
              onSignOut={() => {
                me.signOut();
                setReview(false);
                setErrors([]);
                setGranted(null);
              }}
            />
          )}
          {link.available && me.seller && !granted && !review && (
            <form
              class="card"
              noValidate
              aria-labelledby="details-title"
              onSubmit={(event) => {
                event.preventDefault();
                const problems = dateProblems(current);
                setErrors(problems);
                if (problems.length) {
                  focus("#form-errors");
                } else {
                  setReview(true);
                  focus("#review-title");
                }
              }}
            >
              <h2 id="details-title" tabIndex={-1}>
                Authorization details
              </h2>
              <ErrorSummary errors={errors} prefix="link" />
              <div class="row">
                <DateField id="start-date" label="Start date" value={current.startDate} min={todayUtc()} onChange={(value) => setDraft({ ...current, startDate: value })} messages={byField["startDate"]} />
                <DateField id="end-date" label="End date" value={current.endDate} min={current.startDate} onChange={(value) => setDraft({ ...current, endDate: value })} messages={byField["endDate"]} />
              </div>
              <SettingsFields value={current.settings} onChange={(settings) => setDraft({ ...current, settings })} errors={byField} idPrefix="link" />
              <CoverageFields seller={me.seller} draft={current} onChange={setDraft} errors={byField} />
              <ContactFields value={current.contact} onChange={(contact) => setDraft({ ...current, contact })} errors={byField} idPrefix="link" legend="Your contact details" />
              <div class="actions">
                <button type="submit" class="primary">
                  Review and authorize
                </button>
              </div>
            </form>
          )}
          {link.available && me.seller && !granted && review && (
            <section class="card" aria-labelledby="review-title" id="review">
              <h2 id="review-title" tabIndex={-1}>
                Check before you authorize
              </h2>
              <ErrorSummary errors={errors} prefix="link" />
              <p>
                {service.partner.name} will be authorized for <strong>{service.name}</strong> from{" "}
                <strong>{formatDate(current.startDate)}</strong> to <strong>{formatDate(current.endDate)}</strong>.
              </p>
              <SettingsList settings={current.settings} />
              <div class="actions">
                <button type="button" class="primary" aria-disabled={busy ? "true" : undefined} onClick={confirm}>
                  {busy ? "Authorizing…" : "Confirm and authorize"}
                </button>
                <button
                  type="button"
                  onClick={() => {
                    setErrors([]);
                    setReview(false);
                    focus("#details-title");
                  }}
                >
                  Back to editing
                </button>
              </div>
            </section>
          )}
          {granted && (
            <section class="card done" id="done" aria-labelledby="done-title">
              <h2 id="done-title" tabIndex={-1}>
                Authorized
              </h2>
              <p role="status">
                {service.partner.name} is authorized for {granted.service.name} from {formatDate(granted.startDate)} to{" "}
                {formatDate(granted.endDate)}. <Status value={granted.status} />
              </p>
            </section>
          )}
        </div>
      </div>
    </Shell>
  );
}
