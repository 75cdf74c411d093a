"""The local runner: HTTP server, consumer loop, embedded store and the `wavecom` command."""
