"""`wavecom bench`: load the running stack over HTTP and measure it against raw ceilings."""
