"""Helpdesk connectors: webhook intake parsing, ticket reads and write-back."""
