"""Ports: the typed operations a hospital system performs on each interface; connectors implement them."""
