"""The assistant graph: route → plan → tools → observe → answer, with checked citations."""
