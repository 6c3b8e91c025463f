"""Mail parsing, sources and threading."""
