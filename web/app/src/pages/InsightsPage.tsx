// /partner/insights: the partner's figures over a period, drawn with uPlot, each chart followed
// by its data table (the accessible alternative), the funnel, services ranked, what expires
// soon, and a CSV of what is shown. Reloads when one of the partner's events arrives.
import { useEffect, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type * as G from "../generated/graphql";
import { NotReady } from "../components";
import { useLiveEvents, useQuery } from "../hooks";
import { addDays, formatDate, today } from "../words";

type Bucket = G.InsightsBucketFiguresFragment;
type Figure = Exclude<keyof Bucket, "startDate" | "endDate" | "__typename">;
type Granularity = G.InsightsGranularity;

const FIGURE_WORDS: Record<Figure, string> = {
  offersCreated: "Offers created",
  linkOpens: "Link pages opened",
  offersAccepted: "Offers accepted",
  authorizationsGranted: "Granted",
  renewed: "Renewed",
  canceled: "Canceled",
  expired: "Expired",
  closed: "Closed",
  requestsReceived: "Requests received",
  requestsAccepted: "Requests accepted",
  requestsRejected: "Requests rejected",
  activeAtEnd: "Active at end",
};
const CHARTS: { id: string; title: string; figures: Figure[] }[] = [
  { id: "offers", title: "Offers and link pages", figures: ["offersCreated", "linkOpens", "offersAccepted"] },
  { id: "authorizations", title: "Authorizations", figures: ["authorizationsGranted", "renewed", "canceled", "expired", "closed"] },
  { id: "active", title: "Active authorizations", figures: ["activeAtEnd"] },
  { id: "requests", title: "Requests", figures: ["requestsReceived", "requestsAccepted", "requestsRejected"] },
];
const COLOURS = ["#1d4ed8", "#b45309", "#047857", "#b91c1c", "#6d28d9"];
const PRESETS: [string, number, Granularity][] = [
  ["Last 30 days", 30, "DAY"],
  ["Last 90 days", 90, "WEEK"],
  ["Last 12 months", 365, "MONTH"],
];

function browserZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
}

function label(bucket: Bucket): string {
  return bucket.startDate === bucket.endDate ? bucket.startDate : `${bucket.startDate} – ${bucket.endDate}`;
}

function percent(value: number | null | undefined): string {
  return value === null || value === undefined ? "—" : `${Math.round(value * 1000) / 10}%`;
}

function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return "—";
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  if (seconds < 86400 * 2) return `${Math.round(seconds / 360) / 10} h`;
  return `${Math.round(seconds / 8640) / 10} days`;
}

function csvOf(buckets: Bucket[]): string {
  const figures = Object.keys(FIGURE_WORDS) as Figure[];
  const rows = [["startDate", "endDate", ...figures].join(",")];
  for (const bucket of buckets) {
    rows.push([bucket.startDate, bucket.endDate, ...figures.map((f) => bucket[f] ?? "")].join(","));
  }
  return rows.join("\n") + "\n";
}

function Chart(props: { title: string; id: string; figures: Figure[]; buckets: Bucket[] }) {
  const holder = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const element = holder.current;
    if (!element) return;
    const labels = props.buckets.map(label);
    const data: uPlot.AlignedData = [
      props.buckets.map((_, index) => index),
      ...props.figures.map((figure) => props.buckets.map((bucket) => bucket[figure] ?? null)),
    ];
    const plot = new uPlot(
      {
        width: Math.max(280, element.clientWidth),
        height: 220,
        scales: { x: { time: false } },
        axes: [
          { values: (_u, splits) => splits.map((index) => labels[index]?.slice(5, 10) ?? "") },
          {},
        ],
        series: [
          { label: "Period", value: (_u, index) => (index === null ? "" : labels[index] ?? "") },
          ...props.figures.map((figure, index) => ({
            label: FIGURE_WORDS[figure],
            stroke: COLOURS[index % COLOURS.length],
            width: 2,
          })),
        ],
      },
      data,
      element,
    );
    const resize = () => plot.setSize({ width: Math.max(280, element.clientWidth), height: 220 });
    window.addEventListener("resize", resize);
    return () => {
      window.removeEventListener("resize", resize);
      plot.destroy();
    };
  }, [props.buckets, props.figures]);
  return (
    <section class="card chart" aria-labelledby={`${props.id}-title`}>
      <h2 id={`${props.id}-title`}>{props.title}</h2>
      {/* The canvas says nothing to a screen reader: the table below says all of it. */}
      <div ref={holder} aria-hidden="true" data-chart={props.id} />
      <details>
        <summary>Data table: {props.title}</summary>
        <div class="table-wrap">
          <table id={`${props.id}-table`}>
            <caption>{props.title}, by period</caption>
            <thead>
              <tr>
                <th scope="col">Period</th>
                {props.figures.map((figure) => (
                  <th scope="col" key={figure}>{FIGURE_WORDS[figure]}</th>
                ))}
              </tr>
            </thead>
            <tbody>
              {props.buckets.map((bucket) => (
                <tr key={bucket.startDate}>
                  <th scope="row">{label(bucket)}</th>
                  {props.figures.map((figure) => (
                    <td key={figure} data-figure={figure}>{bucket[figure] ?? "—"}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </details>
    </section>
  );
}

function ServicesRanked(props: { token: string; from: string; to: string; timeZone: string; services: { id: string; name: string }[]; generation: number }) {
  const ids = props.services.map((service) => service.id);
  const [query, reload] = useQuery(
    "PartnerServiceInsights",
    { from: props.from, to: props.to, timeZone: props.timeZone, serviceIds: ids },
    props.token,
    ids.length > 0,
  );
  useEffect(() => reload(), [props.generation]);
  if (!ids.length) return <p>No live services yet.</p>;
  if (query.state !== "ready") return <NotReady loaded={query} what="your services' figures" />;
  const names = new Map(props.services.map((service) => [service.id, service.name]));
  const rows = (query.data.viewer.partner?.insights?.services ?? []).map((service) => {
    const sum = (figure: "linkOpens" | "offersAccepted" | "authorizationsGranted" | "renewed" | "canceled") =>
      service.buckets.reduce((total, bucket) => total + bucket[figure], 0);
    return { name: names.get(service.serviceId) ?? service.serviceId, granted: sum("authorizationsGranted"), opens: sum("linkOpens"), accepted: sum("offersAccepted"), renewed: sum("renewed"), canceled: sum("canceled") };
  });
  rows.sort((a, b) => b.granted - a.granted || a.name.localeCompare(b.name));
  return (
    <div class="table-wrap">
      <table id="services-ranked">
        <caption>Services by authorizations granted in the period</caption>
        <thead>
          <tr>
            <th scope="col">Service</th>
            <th scope="col">Granted</th>
            <th scope="col">Link pages opened</th>
            <th scope="col">Offers accepted</th>
            <th scope="col">Renewed</th>
            <th scope="col">Canceled</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={row.name}>
              <th scope="row">{row.name}</th>
              <td>{row.granted}</td>
              <td>{row.opens}</td>
              <td>{row.accepted}</td>
              <td>{row.renewed}</td>
              <td>{row.canceled}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function Insights(props: { token: string; onExpired: () => void }) {
  const [period, setPeriod] = useState({ from: addDays(today(), -29), to: today(), granularity: "DAY" as Granularity, timeZone: browserZone() });
  const [form, setForm] = useState(period);
  const [generation, setGeneration] = useState(0);
  const [query, reload] = useQuery("PartnerInsights", period, props.token);
  useLiveEvents(props.token, () => {
    reload();
    setGeneration((value) => value + 1);
  });
  const picker = (
    <form
      class="card period"
      aria-label="Period"
      onSubmit={(event) => {
        event.preventDefault();
        setPeriod(form);
      }}
    >
      <div class="presets">
        {PRESETS.map(([name, days, granularity]) => (
          <button
            type="button"
            key={name}
            onClick={() => {
              const next = { ...form, from: addDays(today(), -(days - 1)), to: today(), granularity };
              setForm(next);
              setPeriod(next);
            }}
          >
            {name}
          </button>
        ))}
      </div>
      <label>
        From <input type="date" name="from" value={form.from} onInput={(e) => setForm({ ...form, from: e.currentTarget.value })} />
      </label>
      <label>
        To <input type="date" name="to" value={form.to} onInput={(e) => setForm({ ...form, to: e.currentTarget.value })} />
      </label>
      <label>
        By{" "}
        <select name="granularity" value={form.granularity} onChange={(e) => setForm({ ...form, granularity: e.currentTarget.value as Granularity })}>
          <option value="DAY">day</option>
          <option value="WEEK">week</option>
          <option value="MONTH">month</option>
        </select>
      </label>
      <label>
        Time zone <input name="timeZone" value={form.timeZone} onInput={(e) => setForm({ ...form, timeZone: e.currentTarget.value })} />
      </label>
      <button type="submit">Show</button>
    </form>
  );
  if (query.state !== "ready") {
    return (
      <>
        {picker}
        <NotReady loaded={query} what="your insights" onSignIn={props.onExpired} />
      </>
    );
  }
  const partner = query.data.viewer.partner;
  const insights = partner?.insights;
  if (!partner || !insights) return picker;
  const { buckets, summary } = insights;
  const csv = `data:text/csv;charset=utf-8,${encodeURIComponent(csvOf(buckets))}`;
  const conversion = summary.linkToAuthorizationConversion;
  return (
    <>
      {picker}
      <p class="muted" id="period-shown">
        {formatDate(period.from)} to {formatDate(period.to)}, by {period.granularity.toLowerCase()}, in {period.timeZone}.{" "}
        <a href={csv} download={`insights-${period.from}-${period.to}.csv`} id="csv">
          Download CSV
        </a>
      </p>
      <section class="card" aria-labelledby="summary-title">
        <h2 id="summary-title">The period in figures</h2>
        <dl class="figures" id="summary">
          <div><dt>Link pages opened</dt><dd data-figure="linkOpens">{summary.linkOpens}</dd></div>
          <div><dt>Offers accepted</dt><dd data-figure="offersAccepted">{summary.offersAccepted}</dd></div>
          <div><dt>Link to authorization</dt><dd data-figure="conversion">{percent(conversion)}</dd></div>
          <div><dt>Median time to acceptance</dt><dd data-figure="median">{duration(summary.medianTimeToAcceptanceSeconds)}</dd></div>
          <div><dt>Renewal rate ({summary.renewalsDue} due)</dt><dd data-figure="renewalRate">{percent(summary.renewalRate)}</dd></div>
          <div><dt>Expiring within 15 days</dt><dd data-figure="expiring">{summary.expiringWithin15Days}</dd></div>
        </dl>
        <h3>Funnel</h3>
        <ol class="funnel" id="funnel">
          <li>
            <span>Link pages opened</span> <strong>{summary.linkOpens}</strong>
            <span class="bar" style={{ width: "100%" }} />
          </li>
          <li>
            <span>Offers accepted</span> <strong>{summary.offersAccepted}</strong> ({percent(conversion)})
            <span class="bar" style={{ width: `${Math.min(100, Math.round((conversion ?? 0) * 100))}%` }} />
          </li>
        </ol>
      </section>
      {CHARTS.map((chart) => (
        <Chart key={chart.id} {...chart} buckets={buckets} />
      ))}
      <section class="card" aria-labelledby="services-title">
        <h2 id="services-title">Services ranked</h2>
        <ServicesRanked token={props.token} from={period.from} to={period.to} timeZone={period.timeZone} services={partner.services.nodes} generation={generation} />
      </section>
      <section class="card" aria-labelledby="expiring-title">
        <h2 id="expiring-title">Expiring within 15 days</h2>
        {partner.endingSoon.nodes.length ? (
          <ul id="expiring">
            {partner.endingSoon.nodes.map((row) => (
              <li key={row.id}>
                {row.service.name} for {row.seller.name}: ends {formatDate(row.endDate)}
                {row.daysRemaining !== null && row.daysRemaining !== undefined ? ` (${row.daysRemaining} days left)` : ""}
              </li>
            ))}
          </ul>
        ) : (
          <p id="expiring">Nothing ends within 15 days.</p>
        )}
      </section>
    </>
  );
}
