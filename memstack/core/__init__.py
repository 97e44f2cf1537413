"""Below the engine: settings (one precedence chain), the component registry, database helpers, the error type."""
