// /partner/exports: every authorization or offer in one JSONL file (a bulk export), started
// with the fields the partner ticks, followed while it runs, downloaded, or canceled.
import { useEffect, useRef, useState } from "preact/hooks";
import type * as G from "../generated/graphql";
import { ApiUnreachable, call, fieldKey, payload, SignInRequired, type UserError } from "../api";
import { GeneralErrors, NotReady } from "../components";
import { useQuery } from "../hooks";
import { formatDate } from "../words";
import { newKey } from "./seller";

type Export = NonNullable<G.CurrentBulkExportQuery["currentBulkExport"]>;
type Kind = "authorizations" | "offers";
type Field = { key: string; label: string; selection: string; nested?: boolean };

// The fields the page offers, in the order the file lists them (every line starts with the id).
const KINDS: Record<Kind, { label: string; root: string; fields: Field[]; defaults: string[] }> = {
  authorizations: {
    label: "Authorizations",
    root: "authorizations",
    fields: [
      { key: "status", label: "Status", selection: "status" },
      { key: "startDate", label: "Start date", selection: "startDate" },
      { key: "endDate", label: "End date", selection: "endDate" },
      { key: "daysRemaining", label: "Days remaining", selection: "daysRemaining" },
      { key: "service", label: "Service (id and name)", selection: "service { id name }" },
      { key: "seller", label: "Seller (id and name)", selection: "seller { id name }" },
      {
        key: "settings",
        label: "What the seller allowed",
        selection: "settings { authorizeObject ticketAuthorization tspAccess dataCompassAccess }",
      },
      { key: "createdAt", label: "Created at", selection: "createdAt" },
      {
        key: "history",
        label: "Latest history entry",
        selection: "history(first: 1) { nodes { action createdAt } }",
        nested: true,
      },
    ],
    defaults: ["status", "startDate", "endDate", "service", "history"],
  },
  offers: {
    label: "Service offers",
    root: "serviceOffers",
    fields: [
      { key: "status", label: "Status", selection: "status" },
      { key: "startDate", label: "Start date", selection: "startDate" },
      { key: "endDate", label: "End date", selection: "endDate" },
      { key: "services", label: "Services (ids and names)", selection: "services { id name }" },
      {
        key: "settings",
        label: "What the offer asks for",
        selection: "settings { authorizeObject ticketAuthorization tspAccess dataCompassAccess }",
      },
      { key: "createdAt", label: "Created at", selection: "createdAt" },
      {
        key: "authorizations",
        label: "Authorizations made from it (id and status)",
        selection: "authorizations { nodes { id status } }",
        nested: true,
      },
    ],
    defaults: ["status", "startDate", "endDate", "services"],
  },
};

const STATUS_WORDS: Record<string, string> = {
  CREATED: "Waiting to start",
  RUNNING: "Running",
  COMPLETED: "Complete",
  FAILED: "Failed",
  CANCELED: "Canceled",
  EXPIRED: "Expired",
};
const POLL_MS = 1000;
// A link this close to its end is replaced by a fresh one before it is followed.
const LINK_MARGIN_MS = 30_000;

function exportQuery(kind: Kind, chosen: string[]): string {
  const { root, fields } = KINDS[kind];
  const selections = ["id", ...fields.filter((field) => chosen.includes(field.key)).map((field) => field.selection)];
  return `{ viewer { partner { ${root} { nodes { ${selections.join(" ")} } } } } }`;
}

function isRunning(value: Export | null): boolean {
  return value !== null && (value.status === "CREATED" || value.status === "RUNNING");
}

function kindOf(value: Export): string {
  if (value.query.includes("serviceOffers")) return KINDS.offers.label;
  if (value.query.includes("authorizations")) return KINDS.authorizations.label;
  return "Export";
}

function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

// In UTC, like the dates beside it (formatDate).
function time(value: string): string {
  return `${new Date(value).toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit", timeZone: "UTC" })} UTC`;
}

function failure(error: unknown, onExpired: () => void): UserError[] {
  if (error instanceof SignInRequired) {
    onExpired();
    return [{ field: null, code: "UNAUTHENTICATED", message: "Your sign-in has expired. Sign in again." }];
  }
  if (error instanceof ApiUnreachable) {
    return [{ field: null, code: "UNREACHABLE", message: "The TSP Gateway API cannot be reached right now. Nothing changed; try again in a moment." }];
  }
  return [{ field: null, code: "ERROR", message: (error as Error).message }];
}

/** Errors shown beside one control, announced when they appear. */
function ErrorsBeside(props: { id: string; errors: UserError[] }) {
  if (!props.errors.length) return null;
  return (
    <p class="field-error" id={props.id} role="alert" data-field-error>
      {props.errors.map((error) => error.message).join(" ")}
    </p>
  );
}

type Props = { token: string; onExpired: () => void };

export function Exports(props: Props) {
  const [current] = useQuery("CurrentBulkExport", {}, props.token);
  // The export as last read (started, polled or canceled here), over what the page loaded.
  const [latest, setLatest] = useState<Export | null | undefined>(undefined);
  const [focusProgress, setFocusProgress] = useState(false);
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    if (focusProgress) {
      heading.current?.focus();
      setFocusProgress(false);
    }
  }, [focusProgress]);
  if (current.state !== "ready") return <NotReady loaded={current} what="your exports" onSignIn={props.onExpired} />;
  const shown = latest !== undefined ? latest : current.data.currentBulkExport ?? null;
  return (
    <div class="columns">
      <StartForm
        {...props}
        running={isRunning(shown)}
        onStarted={(started) => {
          setLatest(started);
          setFocusProgress(true);
        }}
      />
      <section class="card" aria-labelledby="export-title" id="export">
        <h2 id="export-title" tabIndex={-1} ref={heading}>
          Your latest export
        </h2>
        {shown ? <Progress {...props} value={shown} onChange={setLatest} /> : <p class="muted">You have not exported anything yet.</p>}
      </section>
    </div>
  );
}

function StartForm(props: Props & { running: boolean; onStarted: (started: Export) => void }) {
  const [kind, setKind] = useState<Kind>("authorizations");
  const [chosen, setChosen] = useState<Record<Kind, string[]>>({
    authorizations: KINDS.authorizations.defaults,
    offers: KINDS.offers.defaults,
  });
  const [errors, setErrors] = useState<UserError[]>([]);
  const [busy, setBusy] = useState(false);
  // One key per query: a retried start (say, after a dropped connection) returns the first.
  const [key, setKey] = useState(newKey);
  const query = exportQuery(kind, chosen[kind]);
  const change = (next: Kind, fields: string[]) => {
    setKind(next);
    setChosen({ ...chosen, [next]: fields });
    setKey(newKey());
    setErrors([]);
  };
  const submit = async () => {
    setBusy(true);
    setErrors([]);
    try {
      const data = await call("StartBulkExport", { input: { query, idempotencyKey: key } }, props.token);
      const result = payload(data.startBulkExport);
      if (result.userErrors.length) setErrors(result.userErrors);
      else if (result.bulkExport) {
        setKey(newKey());
        props.onStarted(result.bulkExport);
      }
    } catch (error) {
      setErrors(failure(error, props.onExpired));
    } finally {
      setBusy(false);
    }
  };
  const aboutStart = errors.filter((error) => fieldKey(error) === "query");
  const general = errors.filter((error) => fieldKey(error) !== "query");
  const described = [props.running ? "export-running-note" : "", aboutStart.length ? "export-start-error" : ""].filter(Boolean).join(" ");
  return (
    <form
      class="card"
      noValidate
      aria-labelledby="start-title"
      onSubmit={(event) => {
        event.preventDefault();
        if (!busy && !props.running) submit();
      }}
    >
      <h2 id="start-title">Start an export</h2>
      <p class="muted">
        Every item in one JSONL file: one line per item, with the fields you choose. Nested lists get lines of their own,
        each with <code>__parentId</code>, the id of the line it belongs to.
      </p>
      <GeneralErrors errors={general} />
      <fieldset>
        <legend>What to export</legend>
        {(Object.keys(KINDS) as Kind[]).map((option) => (
          <label key={option} class="choice">
            <input type="radio" name="export-kind" value={option} checked={kind === option} onChange={() => change(option, chosen[option])} />
            {KINDS[option].label}
          </label>
        ))}
      </fieldset>
      <fieldset aria-describedby="export-fields-hint">
        <legend>Fields</legend>
        <p id="export-fields-hint" class="muted">
          Every line carries the id.
        </p>
        {KINDS[kind].fields.map((field) => (
          <label key={`${kind}-${field.key}`} class="choice">
            <input
              type="checkbox"
              name="export-field"
              value={field.key}
              checked={chosen[kind].includes(field.key)}
              onChange={(event) =>
                change(
                  kind,
                  event.currentTarget.checked ? [...chosen[kind], field.key] : chosen[kind].filter((key) => key !== field.key),
                )
              }
            />
            <span>
              {field.label}
              {field.nested && <span class="muted"> (lines of their own)</span>}
            </span>
          </label>
        ))}
      </fieldset>
      <details>
        <summary>The query this export runs</summary>
        <p>
          <code id="export-query">{query}</code>
        </p>
      </details>
      <div class="actions">
        <button type="submit" class="primary" disabled={busy || props.running} aria-describedby={described || undefined}>
          {busy ? "Starting…" : "Start export"}
        </button>
      </div>
      {props.running && (
        <p id="export-running-note" class="muted">
          One export runs at a time: wait for yours to finish, or cancel it.
        </p>
      )}
      <ErrorsBeside id="export-start-error" errors={aboutStart} />
    </form>
  );
}

function Progress(props: Props & { value: Export; onChange: (value: Export) => void }) {
  const { value } = props;
  const running = isRunning(value);
  const [polls, setPolls] = useState(0);
  const [unreachable, setUnreachable] = useState(false);
  const [cancelErrors, setCancelErrors] = useState<UserError[]>([]);
  const [downloadErrors, setDownloadErrors] = useState<UserError[]>([]);

  // While it runs, read it again every second (its counts grow; its end shows at once).
  useEffect(() => {
    if (!running) return;
    let live = true;
    const timer = window.setTimeout(async () => {
      try {
        const data = await call("BulkExportProgress", { id: value.id }, props.token);
        if (!live) return;
        setUnreachable(false);
        if (data.bulkExport) props.onChange(data.bulkExport);
      } catch (error) {
        if (!live) return;
        if (error instanceof SignInRequired) props.onExpired();
        else setUnreachable(true);
      }
      if (live) setPolls((count) => count + 1);
    }, POLL_MS);
    return () => {
      live = false;
      window.clearTimeout(timer);
    };
  }, [value.id, running, polls]);

  const cancel = async () => {
    setCancelErrors([]);
    try {
      const result = payload((await call("CancelBulkExport", { id: value.id }, props.token)).cancelBulkExport);
      if (result.userErrors.length) setCancelErrors(result.userErrors);
      else if (result.bulkExport) props.onChange(result.bulkExport);
    } catch (error) {
      setCancelErrors(failure(error, props.onExpired));
    }
  };

  // A link read long ago may have run out: read the export again for a fresh one.
  const download = async (event: MouseEvent) => {
    if (!value.urlExpiresAt || Date.parse(value.urlExpiresAt) - Date.now() > LINK_MARGIN_MS) return;
    event.preventDefault();
    setDownloadErrors([]);
    try {
      const fresh = (await call("BulkExportProgress", { id: value.id }, props.token)).bulkExport;
      if (fresh) props.onChange(fresh);
      if (fresh?.url) location.assign(fresh.url);
      else setDownloadErrors([{ field: null, code: "EXPORT_EXPIRED", message: "The file is no longer available." }]);
    } catch (error) {
      setDownloadErrors(failure(error, props.onExpired));
    }
  };

  return (
    <>
      <p class="offer-head">
        <span class={`status status-${value.status.toLowerCase()}`} data-status={value.status}>
          {STATUS_WORDS[value.status] ?? value.status}
        </span>
        <span class="muted">
          {kindOf(value)} · started {formatDate(value.createdAt)} {time(value.createdAt)}
        </span>
      </p>
      <p role="status" id="export-state">
        {value.status === "CREATED" && "Your export is waiting for a worker to pick it up."}
        {value.status === "RUNNING" && "Your export is running: reading every page."}
        {value.status === "COMPLETED" && "Your export is complete: the file is ready to download."}
        {value.status === "FAILED" && "Your export failed."}
        {value.status === "CANCELED" && "You canceled this export; nothing was kept."}
        {value.status === "EXPIRED" && "This export's file was deleted at the end of its retention."}
      </p>
      {running && <progress aria-label="Export progress (its total is not known in advance)" />}
      <dl class="settings" id="export-counts">
        <div>
          <dt>Lines written</dt>
          <dd data-count="lines">{value.objectCount.toLocaleString("en-GB")}</dd>
        </div>
        <div>
          <dt>{kindOf(value)}</dt>
          <dd data-count="items">{value.rootObjectCount.toLocaleString("en-GB")}</dd>
        </div>
        <div>
          <dt>File size</dt>
          <dd>{size(value.fileSize)}</dd>
        </div>
      </dl>
      {unreachable && (
        <p class="alert alert-warn">The TSP Gateway API cannot be reached right now; still trying.</p>
      )}
      {value.status === "FAILED" && (
        <p class="alert alert-error" id="export-failure">
          {value.errorMessage ?? "The export stopped."} ({value.errorCode})
        </p>
      )}
      {value.status === "COMPLETED" && value.url && (
        <>
          <p>
            <a id="export-download" href={value.url} download={`${value.id}.jsonl`} onClick={download} aria-describedby="export-link-note">
              Download the file (JSONL, {size(value.fileSize)})
            </a>
          </p>
          <p id="export-link-note" class="muted">
            {value.urlExpiresAt && `This link works until ${time(value.urlExpiresAt)} (the page fetches a new one after that). `}
            {value.expiresAt && `The file is kept until ${formatDate(value.expiresAt)}.`}
          </p>
          {value.sha256 && (
            <p class="muted">
              SHA-256: <code>{value.sha256}</code>
            </p>
          )}
          <ErrorsBeside id="export-download-error" errors={downloadErrors} />
        </>
      )}
      {running && (
        <div class="actions">
          <button type="button" class="danger" onClick={cancel} aria-describedby={cancelErrors.length ? "export-cancel-error" : undefined}>
            Cancel export
          </button>
        </div>
      )}
      <ErrorsBeside id="export-cancel-error" errors={cancelErrors} />
    </>
  );
}
