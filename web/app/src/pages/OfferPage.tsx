// /authorize/<offer token>: everything the partner offers, then authorize in one click or edit.
import { useEffect, useRef, useState } from "preact/hooks";
import type * as G from "../generated/graphql";
import { ApiUnreachable, call, fieldKey, payload, SignInRequired, type UserError } from "../api";
import {
  ContactFields,
  DateField,
  FieldError,
  NotReady,
  SettingsFields,
  SettingsList,
  Shell,
  Status,
  splitErrors,
} from "../components";
import {
  consentRows,
  dateProblems,
  effectiveStart,
  offerDiff,
  statedContact,
  todayUtc,
  type Change,
  type Draft,
} from "../draft";
import { useQuery } from "../hooks";
import { recordLinkOpen } from "../linkOpen";
import { formatDate, market, words } from "../words";
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

type Offer = NonNullable<G.OfferByLinkQuery["serviceOfferByLink"]>;
type Granted = NonNullable<G.AuthorizeOfferMutation["authorizeServiceOffer"]>["authorizations"];
type Mode = "view" | "edit" | "review" | "done";

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
    startDate: effectiveStart(offer),
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

/** Open, and every service live with an active partner, yet not acceptable: the gateway says so
 * of an offer made for another seller than the one signed in (`canBeAccepted`). */
function madeForAnother(offer: Offer): boolean {
  return (
    offer.status === "OPEN" &&
    !offer.canBeAccepted &&
    offer.partner.status === "ACTIVE" &&
    offer.services.every((service) => service.status === "LIVE")
  );
}

function closedMessage(offer: Offer): string {
  switch (offer.status) {
    case "WITHDRAWN":
      return `${offer.partner.name} withdrew this offer${offer.withdrawnAt ? ` on ${formatDate(offer.withdrawnAt)}` : ""}. There is nothing to authorize here: ask the partner for a new link.`;
    case "ACCEPTED":
      // The page cannot tell who accepted it: only say what holds for whoever reads this.
      return `This offer was already accepted${offer.acceptedAt ? ` on ${formatDate(offer.acceptedAt)}` : ""}. If you accepted it, its services are authorized: manage them in Seller Center under My Services. If you did not, ask ${offer.partner.name} for a new link.`;
    case "EXPIRED":
      return `This offer ended on ${formatDate(offer.endDate)} and can no longer be accepted. Ask ${offer.partner.name} for a new link.`;
    default:
      if (madeForAnother(offer)) {
        return `${offer.partner.name} made this offer for another seller, so it cannot be authorized from the account you signed in with. If it is meant for you, sign in as the seller it was made for, or ask ${offer.partner.name} for a link of your own.`;
      }
      return `This offer cannot be accepted now: ${
        offer.partner.status !== "ACTIVE"
          ? "the partner has been removed from the platform."
          : "one of its services is no longer live."
      } Ask the partner for a new link.`;
  }
}

/** What to say when the gateway refused the offer itself (a userError on the link's token) after
 * the page showed it as open: it changed meanwhile. */
function refusalMessage(error: UserError, offer: Offer): string {
  if (error.code === "OFFER_ALREADY_ACCEPTED") {
    return `Another seller accepted this offer first, so nothing was authorized for you. Ask ${offer.partner.name} for a new link.`;
  }
  return `This offer can no longer be authorized (${error.message}), so nothing was authorized. Ask ${offer.partner.name} for a new link.`;
}

export function OfferPage(props: { token: string }) {
  const me = useSeller();
  // Read as the signed-in seller: an offer made for one seller shows its contact only to that
  // seller, and tells any other seller it cannot be accepted (canBeAccepted).
  const [offerQuery, reloadOffer, offerFresh] = useQuery("OfferByLink", { token: props.token }, me.token);
  const sellerId = me.seller?.id ?? null;
  const [draft, storeDraft] = useDraft(sellerId, `offer.${props.token}`);
  const [mode, setMode] = useState<Mode>("view");
  const [errors, setErrors] = useState<UserError[]>([]);
  const [busy, setBusy] = useState(false);
  const [granted, setGranted] = useState<Granted | null>(null);
  const [refused, setRefused] = useState<string | null>(null);
  const [key, setKey] = useState(newKey);
  const focus = useFocusLater();
  const lastSeller = useRef<string | null>(null);

  useEffect(() => recordLinkOpen(props.token), [props.token]);
  useEffect(() => {
    // The gateway refused the stored sign-in while reading the offer: ask again (the seller's
    // draft stays, for the same seller to sign in to).
    if (offerQuery.state === "signin" && me.token) me.expire("Your sign-in has expired. Please sign in again.");
  }, [offerQuery.state, me.token]);
  useEffect(() => {
    if (!sellerId) return;
    const previous = lastSeller.current;
    lastSeller.current = sellerId;
    if (previous === sellerId) return; // signed in again after an expiry: carry on
    if (previous !== null) {
      // Another seller in this tab: nothing of the last one's choices or results stays.
      setErrors([]);
      setGranted(null);
      setKey(newKey());
      setMode(draft ? "edit" : "view");
    } else if (draft) {
      setMode((current) => (current === "view" ? "edit" : current));
    }
  }, [sellerId]);

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
    storeDraft(value);
    setKey(newKey());
  };
  const current = draft ?? offerDraft(offer);
  const changes = offerDiff(offer, current);

  const authorize = async (input: G.AuthorizeServiceOfferInput | null) => {
    // The button stays focusable while busy (aria-disabled), so a second click arrives here.
    if (busy) return;
    setBusy(true);
    setErrors([]);
    try {
      const data = await call("AuthorizeOffer", { token: props.token, input }, me.token);
      const result = payload(data.authorizeServiceOffer);
      const offerRefused = result.userErrors.find((error) => fieldKey(error) === "token");
      if (offerRefused) {
        setRefused(refusalMessage(offerRefused, offer));
        reloadOffer();
        focus("#offer-closed");
      } else if (result.userErrors.length) {
        setErrors(result.userErrors);
        const { byField } = splitErrors(result.userErrors, FORM_FIELDS);
        if (Object.keys(byField).length) setMode("edit");
        focus("#form-errors");
      } else {
        setGranted(result.authorizations);
        storeDraft(null);
        setMode("done");
        focus("#done-title");
      }
    } catch (error) {
      if (error instanceof SignInRequired) {
        me.expire("Your sign-in has expired. Sign in again: your changes are kept.");
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

  const editedInput = (seller: NonNullable<typeof me.seller>): G.AuthorizeServiceOfferInput => ({
    serviceIds: current.serviceIds,
    // Only dates the seller changed: a start that has passed becomes today by the gateway's
    // own rule, which it does not record as the seller's change.
    startDate: current.startDate !== effectiveStart(offer) ? current.startDate : null,
    endDate: current.endDate !== offer.endDate ? current.endDate : null,
    settings: current.settings,
    contact: statedContact(current.contact),
    ...coverageInput(seller, current),
    idempotencyKey: key,
  });

  const signOut = () => {
    me.signOut();
    lastSeller.current = null;
    setMode("view");
    setErrors([]);
    setGranted(null);
    setKey(newKey());
  };

  const { byField } = splitErrors(errors, FORM_FIELDS);
  const acceptable = offer.canBeAccepted && !refused && mode !== "done";
  // Actions wait for the offer as this seller may see it (read again after signing in).
  const actions = acceptable && offerFresh && me.seller;
  const closed = refused ?? (offer.canBeAccepted ? null : closedMessage(offer));

  return (
    <Shell title={`Service offer from ${offer.partner.name}`}>
      <h1>
        {offer.partner.name} offers you {offer.services.length}{" "}
        {offer.services.length === 1 ? "service" : "services"}
      </h1>
      <p class="lead">
        Offer status <Status value={mode === "done" ? "ACCEPTED" : offer.status} />
      </p>
      {closed && mode !== "done" && (
        <div class="alert alert-info" role="status" id="offer-closed" tabIndex={-1}>
          {closed}
        </div>
      )}
      <div class="columns">
        <div>
          <OfferDetails offer={offer} signedIn={Boolean(me.seller && offerFresh)} />
        </div>
        <div>
          {acceptable && me.panel}
          {(acceptable || madeForAnother(offer)) && me.seller && <SignedIn seller={me.seller} onSignOut={signOut} />}
          {acceptable && me.token && !me.seller && !me.panel && <NotReady loaded={me.viewer} what="your account" />}
          {actions && mode === "view" && (
            <section class="card" aria-labelledby="decide-title">
              <h2 id="decide-title" tabIndex={-1}>
                Authorize
              </h2>
              <ErrorSummary errors={errors} prefix="edit" />
              <p>Authorize every service above as offered, or edit the details first.</p>
              <div class="actions">
                <button type="button" class="primary" aria-disabled={busy ? "true" : undefined} onClick={() => authorize(null)}>
                  {busy ? "Authorizing…" : "Authorize as offered"}
                </button>
                <button
                  type="button"
                  onClick={() => {
                    setErrors([]);
                    setMode("edit");
                    focus("#edit-title");
                  }}
                >
                  Edit before authorizing
                </button>
              </div>
            </section>
          )}
          {actions && (mode === "edit" || mode === "review") && (
            <EditForm
              offer={offer}
              seller={me.seller}
              draft={current}
              setDraft={setDraft}
              byField={byField}
              errors={errors}
              changes={changes}
              review={mode === "review"}
              busy={busy}
              onReview={() => {
                const problems = dateProblems(current);
                setErrors(problems);
                if (problems.length) {
                  focus("#form-errors");
                } else {
                  setMode("review");
                  focus("#review-title");
                }
              }}
              onBack={() => {
                setErrors([]);
                setMode("edit");
                focus("#edit-title");
              }}
              onCancel={() => {
                storeDraft(null);
                setErrors([]);
                setMode("view");
                focus("#decide-title");
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

function OfferDetails(props: { offer: Offer; signedIn: boolean }) {
  const { offer } = props;
  const startPassed = offer.canBeAccepted && offer.startDate < todayUtc();
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
        {startPassed && (
          <p class="muted" id="start-passed">
            The start date has passed: authorized now, the services start today, {formatDate(todayUtc())}.
          </p>
        )}
        <SettingsList settings={offer.settings} />
        <h3>Contact</h3>
        {offer.contact && (offer.contact.name || offer.contact.email || offer.contact.phone) ? (
          <p>{[offer.contact.name, offer.contact.email, offer.contact.phone].filter(Boolean).join(" · ")}</p>
        ) : props.signedIn ? (
          <p class="muted">The partner left your contact details for you to fill in.</p>
        ) : offer.canBeAccepted ? (
          // An offer made for one seller shows its contact to that seller only.
          <p class="muted" id="contact-after-sign-in">
            If the partner filled in your contact details, you see them once you sign in.
          </p>
        ) : (
          <p class="muted">No contact details to show.</p>
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
  errors: UserError[];
  changes: Change[];
  review: boolean;
  busy: boolean;
  onReview: () => void;
  onBack: () => void;
  onCancel: () => void;
  onConfirm: () => void;
}) {
  const { offer, draft, setDraft, byField } = props;
  const first = effectiveStart(offer);
  if (props.review) {
    return (
      <section class="card" aria-labelledby="review-title" id="review">
        <h2 id="review-title" tabIndex={-1}>
          Check before you authorize
        </h2>
        <ErrorSummary errors={props.errors} prefix="edit" />
        <ChangeTable changes={props.changes} />
        <div class="actions">
          <button
            type="button"
            class="primary"
            aria-disabled={props.busy ? "true" : undefined}
            onClick={() => {
              if (!props.busy) props.onConfirm();
            }}
          >
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
      <h2 id="edit-title" tabIndex={-1}>
        Edit before authorizing
      </h2>
      <ErrorSummary errors={props.errors} prefix="edit" />
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
        <legend>Dates (within the offer's {formatDate(first)} – {formatDate(offer.endDate)})</legend>
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
  const rows = consentRows(props.granted[0]?.changesFromOffer ?? [], props.offer.services);
  return (
    <section class="card done" aria-labelledby="done-title" id="done">
      <h2 id="done-title" tabIndex={-1}>
        Authorized
      </h2>
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
      {rows.length ? (
        <table class="changes" id="consent-diff">
          <thead>
            <tr>
              <th scope="col">What</th>
              <th scope="col">Offered</th>
              <th scope="col">Consented</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={row.path} data-field={row.path}>
                <th scope="row">{row.label}</th>
                <td>{row.offered}</td>
                <td>{row.consented}</td>
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
