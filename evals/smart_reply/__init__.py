"""Smart-reply evaluation tools: candidate mining from real sent replies, benchmarks."""
