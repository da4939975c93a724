"""mocks/transport."""
