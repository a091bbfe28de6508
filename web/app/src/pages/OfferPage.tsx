// /authorize/<offer token>: everything the partner offers, then authorize in one click or edit.
import { useEffect, useState } from "preact/hooks";
import type * as G from "../generated/graphql";
import { ApiUnreachable, call, payload, SignInRequired, type UserError } from "../api";
import {
  ContactFields,
  DateField,
  FieldError,
  GeneralErrors,
  NotReady,
  SettingsFields,
  SettingsList,
  Shell,
  Status,
  contactInput,
  splitErrors,
} from "../components";
import { loadDraft, offerDiff, saveDraft, showValue, type Change, type Draft } from "../draft";
import { useQuery } from "../hooks";
import { recordLinkOpen } from "../linkOpen";
import { formatDate, market, today, words } from "../words";
import { CoverageFields, FORM_FIELDS, SignedIn, coverageInput, newKey, useSeller } from "./seller";

type Offer = NonNullable<G.OfferByLinkQuery["serviceOfferByLink"]>;
type Granted = NonNullable<G.AuthorizeOfferMutation["authorizeServiceOffer"]>["authorizations"];

export function LinkProblem(props: { title: string; children: preact.ComponentChildren }) {
  return (
    <Shell title={props.title}>
      <section class="card problem" aria-labelledby="problem-title">
        <h1 id="problem-title">{props.title}</h1>
        {props.children}
      </section>
    </Shell>
  );
}

function offerDraft(offer: Offer): Draft {
  return {
    serviceIds: offer.services.map((service) => service.id),
    startDate: offer.startDate < today() ? today() : offer.startDate,
    endDate: offer.endDate,
    settings: { ...offer.settings },
    contact: {
      name: offer.contact?.name ?? "",
      email: offer.contact?.email ?? "",
      phone: offer.contact?.phone ?? "",
    },
    shopIds: null,
    tiktokAccountIds: null,
  };
}

function closedMessage(offer: Offer): string {
  switch (offer.status) {
    case "WITHDRAWN":
      return `${offer.partner.name} withdrew this offer${offer.withdrawnAt ? ` on ${formatDate(offer.withdrawnAt)}` : ""}. There is nothing to authorize here: ask the partner for a new link.`;
    case "ACCEPTED":
      return `This offer was already accepted${offer.acceptedAt ? ` on ${formatDate(offer.acceptedAt)}` : ""}. Its services are authorized; manage them in Seller Center under My Services.`;
    case "EXPIRED":
      return `This offer ended on ${formatDate(offer.endDate)} and can no longer be accepted. Ask ${offer.partner.name} for a new link.`;
    default:
      return `This offer cannot be accepted now: ${
        offer.partner.status !== "ACTIVE"
          ? "the partner has been removed from the platform."
          : "one of its services is no longer live."
      } Ask the partner for a new link.`;
  }
}

export function OfferPage(props: { token: string }) {
  const [offerQuery] = useQuery("OfferByLink", { token: props.token }, null);
  const me = useSeller();
  const [mode, setMode] = useState<"view" | "edit" | "review" | "done">("view");
  const [draft, setDraftState] = useState<Draft | null>(() => loadDraft(props.token));
  const [errors, setErrors] = useState<UserError[]>([]);
  const [busy, setBusy] = useState(false);
  const [granted, setGranted] = useState<Granted | null>(null);
  const [key, setKey] = useState(newKey);

  useEffect(() => {
    if (draft && mode === "view") setMode("edit");
  }, []);
  useEffect(() => recordLinkOpen(props.token), [props.token]);

  if (offerQuery.state !== "ready") {
    return (
      <Shell title="Service offer">
        <NotReady loaded={offerQuery} what="the offer" />
      </Shell>
    );
  }
  const offer = offerQuery.data.serviceOfferByLink;
  if (!offer) {
    return (
      <LinkProblem title="No offer behind this link">
        <p>
          This authorization link does not lead to any service offer. It may have been copied
          incompletely. Ask the partner who sent it for the link again.
        </p>
      </LinkProblem>
    );
  }
  const setDraft = (value: Draft) => {
    setDraftState(value);
    saveDraft(props.token, value);
    setKey(newKey());
  };
  const current = draft ?? offerDraft(offer);
  const changes = offerDiff(offer, current);

  const authorize = async (input: G.AuthorizeServiceOfferInput | null) => {
    setBusy(true);
    setErrors([]);
    try {
      const data = await call("AuthorizeOffer", { token: props.token, input }, me.token);
      const result = payload(data.authorizeServiceOffer);
      if (result.userErrors.length) {
        setErrors(result.userErrors);
        const { byField } = splitErrors(result.userErrors, FORM_FIELDS);
        if (Object.keys(byField).length) {
          if (!draft) setDraftState(offerDraft(offer));
          setMode("edit");
        }
      } else {
        setGranted(result.authorizations);
        saveDraft(props.token, null);
        setMode("done");
      }
    } catch (error) {
      if (error instanceof SignInRequired) {
        me.signOut("Your sign-in has expired. Sign in again: your changes are kept.");
      } else if (error instanceof ApiUnreachable) {
        setErrors([{ field: null, code: "UNREACHABLE", message: "The TSP Gateway API cannot be reached right now. Nothing was authorized; your choices are kept, so try again in a moment." }]);
      } else {
        setErrors([{ field: null, code: "ERROR", message: (error as Error).message }]);
      }
    } finally {
      setBusy(false);
    }
  };

  const editedInput = (seller: NonNullable<typeof me.seller>): G.AuthorizeServiceOfferInput => ({
    serviceIds: current.serviceIds,
    startDate: current.startDate,
    endDate: current.endDate,
    settings: current.settings,
    contact: contactInput(current.contact),
    ...coverageInput(seller, current),
    idempotencyKey: key,
  });

  const { byField, general } = splitErrors(errors, FORM_FIELDS);
  const open = offer.canBeAccepted && mode !== "done";

  return (
    <Shell title={`Service offer from ${offer.partner.name}`}>
      <h1>
        {offer.partner.name} offers you {offer.services.length}{" "}
        {offer.services.length === 1 ? "service" : "services"}
      </h1>
      <p class="lead">
        Offer status <Status value={mode === "done" ? "ACCEPTED" : offer.status} />
      </p>
      {!offer.canBeAccepted && (
        <div class="alert alert-info" role="status" id="offer-closed">
          {closedMessage(offer)}
        </div>
      )}
      <div class="columns">
        <div>
          <OfferDetails offer={offer} />
        </div>
        <div>
          {open && me.panel}
          {open && me.seller && <SignedIn seller={me.seller} onSignOut={() => me.signOut()} />}
          {open && me.token && !me.seller && !me.panel && <NotReady loaded={me.viewer} what="your account" />}
          {open && me.seller && mode === "view" && (
            <section class="card" aria-labelledby="decide-title">
              <h2 id="decide-title">Authorize</h2>
              <GeneralErrors errors={general} />
              <p>Authorize every service above as offered, or edit the details first.</p>
              <div class="actions">
                <button type="button" class="primary" disabled={busy} onClick={() => authorize(null)}>
                  {busy ? "Authorizing…" : "Authorize as offered"}
                </button>
                <button type="button" onClick={() => setMode("edit")}>
                  Edit before authorizing
                </button>
              </div>
            </section>
          )}
          {open && (mode === "edit" || mode === "review") && (
            <EditForm
              offer={offer}
              seller={me.seller}
              draft={current}
              setDraft={setDraft}
              byField={byField}
              general={general}
              changes={changes}
              review={mode === "review"}
              busy={busy}
              onReview={() => setMode("review")}
              onBack={() => setMode("edit")}
              onCancel={() => {
                setDraftState(null);
                saveDraft(props.token, null);
                setErrors([]);
                setMode("view");
              }}
              onConfirm={() => me.seller && authorize(editedInput(me.seller))}
            />
          )}
          {mode === "done" && granted && <Done offer={offer} granted={granted} />}
        </div>
      </div>
    </Shell>
  );
}

function OfferDetails(props: { offer: Offer }) {
  const { offer } = props;
  return (
    <>
      <section class="card" aria-labelledby="partner-title">
        <h2 id="partner-title">Partner</h2>
        <p>
          <strong>{offer.partner.name}</strong> · {words(offer.partner.type)}
          {offer.partner.contactEmail && (
            <>
              {" · "}
              <a href={`mailto:${offer.partner.contactEmail}`}>{offer.partner.contactEmail}</a>
            </>
          )}
        </p>
      </section>
      <section class="card" aria-labelledby="services-title">
        <h2 id="services-title">Services offered</h2>
        <ul class="services">
          {offer.services.map((service) => (
            <li key={service.id}>
              <strong>{service.name}</strong>
              <span class="muted">
                {" "}
                · {service.category.name} · {service.type === "PUBLIC" ? "Public service" : "Custom service"} ·{" "}
                {market(service.market)}
              </span>
              {service.description && <p>{service.description}</p>}
              {service.pricing && <p class="muted">Pricing: {service.pricing}</p>}
            </li>
          ))}
        </ul>
      </section>
      <section class="card" aria-labelledby="terms-title">
        <h2 id="terms-title">Duration and permissions</h2>
        <p>
          From <strong>{formatDate(offer.startDate)}</strong> to <strong>{formatDate(offer.endDate)}</strong>
        </p>
        <SettingsList settings={offer.settings} />
        <h3>Contact</h3>
        {offer.contact && (offer.contact.name || offer.contact.email || offer.contact.phone) ? (
          <p>{[offer.contact.name, offer.contact.email, offer.contact.phone].filter(Boolean).join(" · ")}</p>
        ) : (
          <p class="muted">The partner left your contact details for you to fill in.</p>
        )}
      </section>
    </>
  );
}

function EditForm(props: {
  offer: Offer;
  seller: import("./seller").SellerViewer | null;
  draft: Draft;
  setDraft: (draft: Draft) => void;
  byField: Record<string, string[]>;
  general: UserError[];
  changes: Change[];
  review: boolean;
  busy: boolean;
  onReview: () => void;
  onBack: () => void;
  onCancel: () => void;
  onConfirm: () => void;
}) {
  const { offer, draft, setDraft, byField } = props;
  const first = offer.startDate < today() ? today() : offer.startDate;
  if (props.review) {
    return (
      <section class="card" aria-labelledby="review-title" id="review">
        <h2 id="review-title">Check before you authorize</h2>
        <GeneralErrors errors={props.general} />
        <ChangeTable changes={props.changes} />
        <div class="actions">
          <button type="button" class="primary" disabled={props.busy || !props.seller} onClick={props.onConfirm}>
            {props.busy ? "Authorizing…" : "Confirm and authorize"}
          </button>
          <button type="button" onClick={props.onBack}>
            Back to editing
          </button>
        </div>
      </section>
    );
  }
  return (
    <form
      class="card"
      noValidate
      aria-labelledby="edit-title"
      onSubmit={(event) => {
        event.preventDefault();
        props.onReview();
      }}
    >
      <h2 id="edit-title">Edit before authorizing</h2>
      <GeneralErrors errors={props.general} />
      <fieldset aria-describedby="services-error">
        <legend>Services to authorize</legend>
        {offer.services.map((service) => (
          <label key={service.id} class="choice">
            <input
              type="checkbox"
              name="serviceIds"
              value={service.id}
              checked={draft.serviceIds.includes(service.id)}
              onChange={(event) =>
                setDraft({
                  ...draft,
                  serviceIds: event.currentTarget.checked
                    ? offer.services.map((s) => s.id).filter((id) => id === service.id || draft.serviceIds.includes(id))
                    : draft.serviceIds.filter((id) => id !== service.id),
                })
              }
            />
            {service.name}
          </label>
        ))}
        <FieldError id="services-error" messages={byField["serviceIds"]} />
      </fieldset>
      <fieldset>
        <legend>Dates (within the offer's {formatDate(offer.startDate)} – {formatDate(offer.endDate)})</legend>
        <div class="row">
          <DateField
            id="start-date"
            label="Start date"
            value={draft.startDate}
            min={first}
            max={offer.endDate}
            onChange={(value) => setDraft({ ...draft, startDate: value })}
            messages={byField["startDate"]}
          />
          <DateField
            id="end-date"
            label="End date"
            value={draft.endDate}
            min={first}
            max={offer.endDate}
            onChange={(value) => setDraft({ ...draft, endDate: value })}
            messages={byField["endDate"]}
          />
        </div>
      </fieldset>
      <SettingsFields value={draft.settings} onChange={(settings) => setDraft({ ...draft, settings })} errors={byField} idPrefix="edit" />
      {props.seller && <CoverageFields seller={props.seller} draft={draft} onChange={setDraft} errors={byField} />}
      <ContactFields value={draft.contact} onChange={(contact) => setDraft({ ...draft, contact })} errors={byField} idPrefix="edit" legend="Your contact details" />
      <section aria-labelledby="diff-title" class="diff">
        <h3 id="diff-title">What differs from the offer</h3>
        <ChangeTable changes={props.changes} />
      </section>
      <div class="actions">
        <button type="submit" class="primary" disabled={!props.seller || draft.serviceIds.length === 0}>
          Review and authorize
        </button>
        <button type="button" onClick={props.onCancel}>
          Discard changes
        </button>
      </div>
    </form>
  );
}

function ChangeTable(props: { changes: Change[] }) {
  if (!props.changes.length) {
    return <p id="no-changes">Nothing: you would authorize exactly what was offered.</p>;
  }
  return (
    <table class="changes" id="changes">
      <caption class="sr-only">Your changes to the offer</caption>
      <thead>
        <tr>
          <th scope="col">What</th>
          <th scope="col">Offered</th>
          <th scope="col">You authorize</th>
        </tr>
      </thead>
      <tbody>
        {props.changes.map((change) => (
          <tr key={change.field}>
            <th scope="row">{change.field}</th>
            <td>{change.offered}</td>
            <td>{change.chosen}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Done(props: { offer: Offer; granted: Granted }) {
  const changes = props.granted[0]?.changesFromOffer ?? [];
  return (
    <section class="card done" aria-labelledby="done-title" id="done">
      <h2 id="done-title">Authorized</h2>
      <p role="status">
        {props.offer.partner.name} is now authorized for {props.granted.length}{" "}
        {props.granted.length === 1 ? "service" : "services"}.
      </p>
      <ul>
        {props.granted.map((authorization) => (
          <li key={authorization.id}>
            {authorization.service.name}: {formatDate(authorization.startDate)} – {formatDate(authorization.endDate)}{" "}
            <Status value={authorization.status} />
          </li>
        ))}
      </ul>
      <h3>What you consented to, compared with the offer</h3>
      {changes.length ? (
        <table class="changes" id="consent-diff">
          <thead>
            <tr>
              <th scope="col">What</th>
              <th scope="col">Offered</th>
              <th scope="col">Consented</th>
            </tr>
          </thead>
          <tbody>
            {changes.map((change) => (
              <tr key={change.field} data-field={change.field}>
                <th scope="row">{change.field}</th>
                <td>{showValue(change.offered)}</td>
                <td>{showValue(change.consented)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p id="consent-same">Exactly what was offered.</p>
      )}
    </section>
  );
}
