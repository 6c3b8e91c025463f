"""Shared foundation: settings, domain types and the error hierarchy. Imports nothing of ours."""
