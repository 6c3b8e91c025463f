"""Training of the learned classifiers (``mailmind train``); runtime code never imports this."""
