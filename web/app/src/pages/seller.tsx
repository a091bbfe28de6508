// Parts of the seller's authorization pages: who is signed in, and the fields of an authorization.
import { useState } from "preact/hooks";
import type * as G from "../generated/graphql";
import { FieldError, SignIn } from "../components";
import { useQuery } from "../hooks";
import { storedToken, storeToken } from "../session";
import { market, regionRule } from "../words";
import { needsAccounts, needsShops, type Draft } from "../draft";

export type SellerViewer = NonNullable<G.ViewerQuery["viewer"]["seller"]>;

/** The signed-in seller, or the sign-in panel; `reason` asks again after a token expired. */
export function useSeller() {
  const [token, setToken] = useState(storedToken("SELLER"));
  const [reason, setReason] = useState<string | undefined>();
  const [viewer] = useQuery("Viewer", {}, token, Boolean(token));
  const signIn = (value: string) => {
    storeToken("SELLER", value);
    setReason(undefined);
    setToken(value);
  };
  const signOut = (why?: string) => {
    storeToken("SELLER", null);
    setReason(why);
    setToken(null);
  };
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
  return { token, seller, viewer, panel, signOut };
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
              @{account.handle}
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
