"""The handlers: small stateless functions from an event to a response, over `shared`."""
