// Parts of the seller's authorization pages: who is signed in, and the fields of an authorization.
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import type * as G from "../generated/graphql";
import { fieldKey, type UserError } from "../api";
import { FieldError, SignIn } from "../components";
import { useQuery } from "../hooks";
import { storedToken, storeToken } from "../session";
import { market, regionRule } from "../words";
import { forgetDrafts, loadDraft, needsAccounts, needsShops, saveDraft, type Draft } from "../draft";

export type SellerViewer = NonNullable<G.ViewerQuery["viewer"]["seller"]>;

/** The signed-in seller, or the sign-in panel. `signOut` is the person's own (their drafts in
 * this tab are forgotten); `expire` asks again after the gateway refused the token, keeping the
 * drafts for the same seller to sign in again. */
export function useSeller() {
  const [token, setToken] = useState(storedToken("SELLER"));
  const [reason, setReason] = useState<string | undefined>();
  const [viewer] = useQuery("Viewer", {}, token, Boolean(token));
  const signIn = (value: string) => {
    storeToken("SELLER", value);
    setReason(undefined);
    setToken(value);
  };
  const signOut = () => {
    storeToken("SELLER", null);
    forgetDrafts();
    setReason(undefined);
    setToken(null);
  };
  const expire = useCallback((why: string) => {
    storeToken("SELLER", null);
    setReason(why);
    setToken(null);
  }, []);
  let seller: SellerViewer | null = null;
  let problem: string | undefined = reason;
  if (token && viewer.state === "ready") {
    seller = viewer.data.viewer.seller;
    if (!seller) problem = "This sign-in is not a seller's. Sign in as the seller who authorizes.";
  }
  if (token && viewer.state === "signin") problem = "Your sign-in has expired. Please sign in again.";
  const panel =
    !seller && (!token || viewer.state === "signin" || (viewer.state === "ready" && !seller)) ? (
      <SignIn role="SELLER" onToken={signIn} reason={problem} />
    ) : null;
  return { token, seller, viewer, panel, signOut, expire };
}

/** The draft of one form, kept under the signed-in seller's id: nobody's while signed out. */
export function useDraft(sellerId: string | null, form: string): [Draft | null, (draft: Draft | null) => void] {
  const [, setVersion] = useState(0);
  const draft = sellerId ? loadDraft(sellerId, form) : null;
  const setDraft = (value: Draft | null) => {
    if (!sellerId) return;
    saveDraft(sellerId, form, value);
    setVersion((version) => version + 1);
  };
  return [draft, setDraft];
}

/**
 * Moves focus to the element a selector names, once the page has rendered it. A control that
 * is disabled while busy, or replaced by the next step, would otherwise drop focus to <body>,
 * and a screen reader would not hear what happened.
 */
export function useFocusLater(): (selector: string) => void {
  const pending = useRef<string | null>(null);
  const [, setAsked] = useState(0);
  useEffect(() => {
    const selector = pending.current;
    if (!selector) return;
    const element = document.querySelector<HTMLElement>(selector);
    if (element) {
      pending.current = null;
      element.focus();
    }
  });
  return useCallback((selector: string) => {
    pending.current = selector;
    setAsked((asked) => asked + 1);
  }, []);
}

/** The control each field of the seller's forms is shown by (`prefix`: the form's id prefix). */
function controlOf(field: string, prefix: string): string | null {
  const controls: Record<string, string> = {
    serviceIds: "input[name=serviceIds]",
    startDate: "#start-date",
    endDate: "#end-date",
    settings: `input[name=${prefix}-object]:checked`,
    contact: `#${prefix}-contact-name`,
    "contact.name": `#${prefix}-contact-name`,
    "contact.email": `#${prefix}-contact-email`,
    "contact.phone": `#${prefix}-contact-phone`,
    shopIds: "input[name=shopIds]",
    tiktokAccountIds: "input[name=tiktokAccountIds]",
  };
  const match = FORM_FIELDS.find((shown) => field === shown || field.startsWith(`${shown}.`));
  return match ? (controls[match] ?? null) : null;
}

const fieldLabels: Record<string, string> = {
  serviceIds: "Services",
  startDate: "Start date",
  endDate: "End date",
  settings: "Authorize object",
  contact: "Contact",
  "contact.name": "Contact name",
  "contact.email": "Contact email",
  "contact.phone": "Contact phone",
  shopIds: "Shops",
  tiktokAccountIds: "TikTok accounts",
};

/** Every problem with the form, at its top: focused when it appears (so it is read out, and in
 * view on a phone), each field's problem a link to its control (where it is also shown). */
export function ErrorSummary(props: { errors: UserError[]; prefix: string }) {
  if (!props.errors.length) return null;
  return (
    // Focused, not a live region: focus reads it out once, where an alert would be read again
    // when focus lands on it.
    <div class="alert alert-error" id="form-errors" tabIndex={-1}>
      <p>
        <strong>
          {props.errors.length === 1 ? "There is a problem" : `There are ${props.errors.length} problems`}: nothing was
          authorized yet.
        </strong>
      </p>
      <ul>
        {props.errors.map((error, index) => {
          const field = fieldKey(error);
          const control = controlOf(field, props.prefix);
          const label = FORM_FIELDS.find((shown) => field === shown || field.startsWith(`${shown}.`));
          if (!control || !label) return <li key={index}>{error.message}</li>;
          return (
            <li key={index}>
              <button type="button" class="link" onClick={() => document.querySelector<HTMLElement>(control)?.focus()}>
                {fieldLabels[label]}
              </button>
              : {error.message}
            </li>
          );
        })}
      </ul>
    </div>
  );
}

/** A TikTok handle as people write it: with one "@" (the gateway stores it with one). */
export function showHandle(handle: string): string {
  return handle.startsWith("@") ? handle : `@${handle}`;
}

export function SignedIn(props: { seller: SellerViewer; onSignOut: () => void }) {
  const rule = regionRule(props.seller);
  return (
    <section class="card" aria-labelledby="seller-title">
      <h2 id="seller-title">Signed in</h2>
      <p>
        <strong data-testid="seller-name">{props.seller.name}</strong> ·{" "}
        {props.seller.kind === "CROSS_BORDER" ? "Cross-border seller" : "Local seller"} ·{" "}
        {market(props.seller.market)}{" "}
        <button type="button" class="link" onClick={props.onSignOut}>
          Sign out
        </button>
      </p>
      {rule && (
        <p class="note" id="region-rule">
          <strong>Region rule:</strong> {rule}
        </p>
      )}
    </section>
  );
}

export function CoverageFields(props: {
  seller: SellerViewer;
  draft: Draft;
  onChange: (draft: Draft) => void;
  errors: Record<string, string[]>;
}) {
  const { seller, draft, onChange } = props;
  const shops = seller.shops.nodes;
  const accounts = seller.tiktokAccounts.nodes.filter((account) => account.linkedStatus === "LINKED");
  const chosenShops = draft.shopIds ?? shops.map((shop) => shop.id);
  const chosenAccounts = draft.tiktokAccountIds ?? accounts.map((account) => account.id);
  const toggle = (list: string[], id: string, on: boolean) =>
    on ? [...list.filter((item) => item !== id), id] : list.filter((item) => item !== id);
  return (
    <>
      {needsShops(draft.settings.authorizeObject) && (
        <fieldset aria-describedby="shops-error">
          <legend>Shops to authorize</legend>
          {shops.length === 0 && <p class="muted">You have no shops yet.</p>}
          {shops.map((shop) => (
            <label key={shop.id} class="choice">
              <input
                type="checkbox"
                name="shopIds"
                value={shop.id}
                checked={chosenShops.includes(shop.id)}
                onChange={(e) => onChange({ ...draft, shopIds: toggle(chosenShops, shop.id, e.currentTarget.checked) })}
              />
              {shop.name} ({market(shop.market)})
            </label>
          ))}
          <FieldError id="shops-error" messages={props.errors["shopIds"]} />
        </fieldset>
      )}
      {needsAccounts(draft.settings.authorizeObject) && (
        <fieldset aria-describedby="accounts-error">
          <legend>TikTok accounts to authorize</legend>
          {accounts.length === 0 && <p class="muted">You have no linked TikTok accounts.</p>}
          {accounts.map((account) => (
            <label key={account.id} class="choice">
              <input
                type="checkbox"
                name="tiktokAccountIds"
                value={account.id}
                checked={chosenAccounts.includes(account.id)}
                onChange={(e) =>
                  onChange({ ...draft, tiktokAccountIds: toggle(chosenAccounts, account.id, e.currentTarget.checked) })
                }
              />
              {showHandle(account.handle)}
            </label>
          ))}
          <FieldError id="accounts-error" messages={props.errors["tiktokAccountIds"]} />
        </fieldset>
      )}
    </>
  );
}

/** The shops and accounts the draft covers, as the mutation's input wants them. */
export function coverageInput(seller: SellerViewer, draft: Draft) {
  const shops = seller.shops.nodes.map((shop) => shop.id);
  const accounts = seller.tiktokAccounts.nodes
    .filter((account) => account.linkedStatus === "LINKED")
    .map((account) => account.id);
  return {
    shopIds: needsShops(draft.settings.authorizeObject) ? (draft.shopIds ?? shops) : null,
    tiktokAccountIds: needsAccounts(draft.settings.authorizeObject) ? (draft.tiktokAccountIds ?? accounts) : null,
  };
}

export function newKey(): string {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

export const FORM_FIELDS = [
  "serviceIds",
  "startDate",
  "endDate",
  "settings",
  "contact.name",
  "contact.email",
  "contact.phone",
  "contact",
  "shopIds",
  "tiktokAccountIds",
];
