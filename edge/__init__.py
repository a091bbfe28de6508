"""The gateway layer: what protects the API before and around execution.

Transport limits, CORS and admission control meet every request first. Structural limits and
query cost are decided from the parsed document before any resolver runs; throttling spends a
caller's budget kept in the store, so every worker and replica serving that store shares it;
trusted documents let registered clients skip parsing and validation. Metrics and tracing
observe all of it. Nothing here knows the domain: it sees requests, documents, callers and
budgets.
"""
