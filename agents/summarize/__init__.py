"""Thread and message summaries with citations and a faithfulness check."""
