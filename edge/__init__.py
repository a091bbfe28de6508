"""The gateway layer: what protects the API before and around execution.

Structural limits and query cost are decided from the parsed document before any resolver
runs; throttling spends a caller's budget kept in the store, so every worker and replica
serving that store shares it; trusted documents let registered clients skip parsing and
validation. Nothing here knows the domain: it sees documents, callers and budgets.
"""
