"""Tests of agents.smart_reply."""
