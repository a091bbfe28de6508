"""The GraphQL schema: Strawberry types, one module per domain; ``schema.api`` assembles them.

Importing one module imports only what it uses (this package imports nothing), so a type's
module can be read, imported and tested on its own.
"""
