"""WaveCom Notify's domain library: configuration, jobs, validation, store, broker, providers."""
