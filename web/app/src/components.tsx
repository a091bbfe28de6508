// Pieces shared by the seller's and the partner's pages.
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import type * as G from "./generated/graphql";
import { fieldKey, type UserError } from "./api";
import type { Loaded } from "./hooks";
import { pageConfig, type Role } from "./session";
import { authorizeObjectWords, settingKeys, settingWords, words } from "./words";

export function Shell(props: { title: string; children: ComponentChildren; nav?: ComponentChildren }) {
  document.title = `${props.title} · TSP Gateway`;
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">TikTok Shop Partner</span>
        {props.nav}
      </header>
      <main id="main" tabIndex={-1}>
        {props.children}
      </main>
    </>
  );
}

export function Status(props: { value: string }) {
  return (
    <span class={`status status-${props.value.toLowerCase()}`} data-status={props.value}>
      {words(props.value)}
    </span>
  );
}

/** What a query's state means to the person, while it is not ready. */
export function NotReady<T>(props: { loaded: Loaded<T>; what: string; onSignIn?: () => void }) {
  const { loaded } = props;
  if (loaded.state === "loading") {
    return (
      <p class="muted" role="status">
        Loading {props.what}…
      </p>
    );
  }
  if (loaded.state === "unreachable") {
    return (
      <div class="alert alert-warn" id="unreachable">
        {/* Only the unchanging sentence is an alert: a live region whose text counts down would
            be read out again every second. */}
        <strong role="alert">The TSP Gateway API cannot be reached right now.</strong>{" "}
        <span id="retry-countdown">Trying again in {loaded.retryIn} s.</span>{" "}
        <button type="button" class="link" onClick={loaded.retry}>
          Retry now
        </button>
      </div>
    );
  }
  if (loaded.state === "signin") {
    return (
      <div class="alert alert-warn" role="alert">
        Your sign-in is no longer valid ({loaded.message}). Please sign in again.
        {props.onSignIn && (
          <>
            {" "}
            <button type="button" class="link" onClick={props.onSignIn}>
              Sign in
            </button>
          </>
        )}
      </div>
    );
  }
  if (loaded.state === "error") {
    return (
      <div class="alert alert-error" role="alert">
        Something went wrong loading {props.what}: {loaded.message}
      </div>
    );
  }
  return null;
}

/** Errors whose field is shown by a control, and the rest (shown at the top of the form). */
export function splitErrors(errors: UserError[], shown: string[]) {
  const byField: Record<string, string[]> = {};
  const general: UserError[] = [];
  for (const error of errors) {
    const key = fieldKey(error);
    const match = shown.find((field) => key === field || key.startsWith(`${field}.`));
    if (match) (byField[match] ??= []).push(error.message);
    else general.push(error);
  }
  return { byField, general };
}

export function FieldError(props: { id: string; messages?: string[] }) {
  if (!props.messages?.length) return null;
  return (
    <p class="field-error" id={props.id} data-field-error>
      {props.messages.join(" ")}
    </p>
  );
}

export function GeneralErrors(props: { errors: UserError[] }) {
  if (!props.errors.length) return null;
  return (
    <div class="alert alert-error" role="alert">
      <ul>
        {props.errors.map((error) => (
          <li key={error.message}>{error.message}</li>
        ))}
      </ul>
    </div>
  );
}

export function SettingsList(props: { settings: G.AuthorizationSettingsInput }) {
  const { settings } = props;
  return (
    <dl class="settings">
      <div>
        <dt>Authorize object</dt>
        <dd>{authorizeObjectWords[settings.authorizeObject]}</dd>
      </div>
      {settingKeys.map((key) => (
        <div key={key}>
          <dt>{settingWords[key].label}</dt>
          <dd class={settings[key] ? "yes" : "no"}>
            <span aria-hidden="true">{settings[key] ? "✓ " : "✗ "}</span>
            {settings[key] ? settingWords[key].yes : settingWords[key].no}
          </dd>
        </div>
      ))}
    </dl>
  );
}

export function SettingsFields(props: {
  value: G.AuthorizationSettingsInput;
  onChange: (value: G.AuthorizationSettingsInput) => void;
  errors: Record<string, string[]>;
  idPrefix: string;
}) {
  const { value, onChange, idPrefix } = props;
  return (
    <fieldset>
      <legend>What the partner may do</legend>
      <fieldset class="inner" aria-describedby={`${idPrefix}-object-error`}>
        <legend>Authorize object</legend>
        {(Object.keys(authorizeObjectWords) as G.AuthorizeObject[]).map((object) => (
          <label key={object} class="choice">
            <input
              type="radio"
              name={`${idPrefix}-object`}
              value={object}
              checked={value.authorizeObject === object}
              onChange={() => onChange({ ...value, authorizeObject: object })}
            />
            {authorizeObjectWords[object]}
          </label>
        ))}
        <FieldError id={`${idPrefix}-object-error`} messages={props.errors["settings"]} />
      </fieldset>
      {settingKeys.map((key) => (
        <label key={key} class="choice">
          <input
            type="checkbox"
            name={key}
            checked={value[key]}
            onChange={(event) => onChange({ ...value, [key]: event.currentTarget.checked })}
          />
          <span>
            <strong>{settingWords[key].label}</strong>: {settingWords[key].yes}
          </span>
        </label>
      ))}
    </fieldset>
  );
}

export type Contact = { name: string; email: string; phone: string };

export function ContactFields(props: {
  value: Contact;
  onChange: (value: Contact) => void;
  errors: Record<string, string[]>;
  idPrefix: string;
  legend: string;
}) {
  const { value, onChange, idPrefix } = props;
  const field = (key: keyof Contact, label: string, type: string, autocomplete: string) => {
    const id = `${idPrefix}-contact-${key}`;
    const messages = props.errors[`contact.${key}`];
    return (
      <div class="field">
        <label for={id}>{label}</label>
        <input
          id={id}
          name={`contact.${key}`}
          type={type}
          autocomplete={autocomplete}
          value={value[key]}
          aria-invalid={messages ? "true" : undefined}
          aria-describedby={messages ? `${id}-error` : undefined}
          onInput={(event) => onChange({ ...value, [key]: event.currentTarget.value })}
        />
        <FieldError id={`${id}-error`} messages={messages} />
      </div>
    );
  };
  return (
    <fieldset>
      <legend>{props.legend}</legend>
      <FieldError id={`${idPrefix}-contact-error`} messages={props.errors["contact"]} />
      {field("name", "Contact name", "text", "name")}
      {field("email", "Contact email", "email", "email")}
      {field("phone", "Contact phone", "tel", "tel")}
    </fieldset>
  );
}

export function contactInput(contact: Contact): G.SellerContactInput | null {
  const name = contact.name.trim();
  const email = contact.email.trim();
  const phone = contact.phone.trim();
  if (!name && !email && !phone) return null;
  return { name: name || null, email: email || null, phone: phone || null };
}

export function DateField(props: {
  id: string;
  label: string;
  value: string;
  min?: string;
  max?: string;
  onChange: (value: string) => void;
  messages?: string[];
}) {
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      <input
        id={props.id}
        type="date"
        value={props.value}
        min={props.min}
        max={props.max}
        aria-invalid={props.messages ? "true" : undefined}
        aria-describedby={props.messages ? `${props.id}-error` : undefined}
        onInput={(event) => props.onChange(event.currentTarget.value)}
      />
      <FieldError id={`${props.id}-error`} messages={props.messages} />
    </div>
  );
}

/** Demo accounts to pick, or a box for the token the platform's login hands over. */
export function SignIn(props: { role: Role; onToken: (token: string) => void; reason?: string }) {
  const config = pageConfig();
  const accounts = config.demoAccounts.filter((account) => account.role === props.role);
  const [picked, setPicked] = useState(accounts[0]?.token ?? "");
  const [pasted, setPasted] = useState("");
  const who = props.role === "SELLER" ? "seller" : "partner";
  return (
    <section class="card signin" aria-labelledby="signin-title">
      <h2 id="signin-title">Sign in as a {who}</h2>
      {props.reason && (
        <p class="alert alert-warn" role="alert">
          {props.reason}
        </p>
      )}
      {config.demo && accounts.length > 0 && (
        <form
          onSubmit={(event) => {
            event.preventDefault();
            if (picked) props.onToken(picked);
          }}
        >
          <p class="muted">Demo mode: choose a demo {who} account.</p>
          <div class="field">
            <label for="demo-account">Demo {who}</label>
            <select id="demo-account" value={picked} onChange={(e) => setPicked(e.currentTarget.value)}>
              {accounts.map((account) => (
                <option key={account.token} value={account.token}>
                  {account.name}
                </option>
              ))}
            </select>
          </div>
          <button type="submit" class="primary">
            Sign in as this {who}
          </button>
        </form>
      )}
      <form
        class="paste"
        onSubmit={(event) => {
          event.preventDefault();
          if (pasted.trim()) props.onToken(pasted.trim());
        }}
      >
        <p class="muted">
          Your platform login opens this page with your sign-in token in the address
          (<code>#token=…</code>). If it gave you the token instead, paste it here.
        </p>
        <div class="field">
          <label for="paste-token">Sign-in token</label>
          <textarea id="paste-token" rows={2} value={pasted} onInput={(e) => setPasted(e.currentTarget.value)} />
        </div>
        <button type="submit">Sign in with this token</button>
      </form>
    </section>
  );
}
