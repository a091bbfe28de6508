"""The gateway layer: transport limits, GraphQL over HTTP, metrics and tracing."""
